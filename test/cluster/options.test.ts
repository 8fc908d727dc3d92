/** The `cluster` options block: defaults, and one-line errors naming the bad key. */
import { describe, expect, test } from "bun:test";
import { parseOptions } from "../../src/core/options.ts";

describe("options: cluster", () => {
  test("is absent by default: one node, LocalBus", () => {
    expect(parseOptions({}).cluster).toBeUndefined();
  });

  test("fills defaults and splits comma-separated URLs", () => {
    expect(parseOptions({ cluster: { nats: "nats://a:4222, nats://b:4222" } }).cluster).toEqual({
      nats: ["nats://a:4222", "nats://b:4222"],
      name: "tickgate",
      replicas: 1,
      publishTimeoutMs: 5000,
      heartbeatMs: 1000,
    });
  });

  test("names the bad key", () => {
    expect(() => parseOptions({ cluster: { nats: "http://x" } })).toThrow("config: cluster.nats.0: must be nats://host:port or tls://host:port");
    expect(() => parseOptions({ cluster: { nats: "nats://x:1", name: "a.b" } })).toThrow("config: cluster.name: must be 1-32 of [A-Za-z0-9_-]");
    expect(() => parseOptions({ cluster: { nats: "nats://x:1", replicas: 0 } })).toThrow(/^config: cluster\.replicas: /);
    expect(() => parseOptions({ cluster: { nats: "nats://x:1", bogus: 1 } })).toThrow(/^config: cluster: /);
  });
});
