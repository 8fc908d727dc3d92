import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/core/errors.ts";
import { parseOptions } from "../../src/core/options.ts";
import { runCli } from "../helpers/spawn.ts";

describe("parseOptions", () => {
  test("defaults are complete and frozen", () => {
    const o = parseOptions({});
    expect(o.port).toBe(8080);
    expect(o.host).toBe("127.0.0.1");
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(o.defaultPolicy)).toBe(true);
  });

  test.each([
    [{ port: "80" }, "config: port: "],
    [{ port: 70000 }, "config: port: "],
    [{ nope: 1 }, "config: (root): "],
    [{ defaultPolicy: { action: "explode" } }, "config: defaultPolicy.action: "],
    [{ policies: [{ match: "a.>.b" }] }, "config: policies.0.match: bad topic pattern 'a.>.b'"],
    [{ policies: [{ match: "a", limitBytes: 99e9 }] }, "config: policies.0.limitBytes: must be below slowConsumer.nativeLimitBytes"],
    [{ slowConsumer: { checkIntervalMs: 1 } }, "config: slowConsumer.checkIntervalMs: "],
  ])("%j fails with one line naming the key", (input, prefix) => {
    let err: unknown;
    try {
      parseOptions(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg.startsWith(prefix)).toBe(true);
    expect(msg).not.toContain("\n");
  });

  test("unknown keys are named", () => {
    expect(() => parseOptions({ prot: 1 })).toThrow(/prot/);
  });
});

describe("CLI config", () => {
  test("a bad config file exits 2 with one line naming the key", async () => {
    const file = join(tmpdir(), `tickgate-bad-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ defaultPolicy: { limitBytes: -1 } }));
    const r = await runCli(["serve", "--config", file, "--no-demo"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^tickgate: config: defaultPolicy\.limitBytes: /);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("a bad environment value names the variable", async () => {
    const r = await runCli(["serve", "--no-demo"], { TICKGATE_PORT: "eighty" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("TICKGATE_PORT must be a number");
  });

  test("--help exits 0, an unknown command exits 2", async () => {
    expect((await runCli(["--help"])).code).toBe(0);
    expect((await runCli(["frobnicate"])).code).toBe(2);
  });
});
