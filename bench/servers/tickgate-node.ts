/**
 * Bench server: tickgate on Node with the uWebSockets.js adapter, the
 * fan-out peer of tickgate.ts (one topic, conflate past 1 MiB, retained
 * value, pre-packed msgpack ticks through the broker's raw path). Bundled
 * for Node by uws-peers.ts; drives the publish loop with node-driver.mjs.
 * Args: --payload BYTES
 * @module
 */
import { internals } from "../../src/internal.ts";
import { createServer } from "../../src/adapter/uws/index.ts";
import { payloadTemplate, stamp, TOPIC } from "../lib/tick.ts";
// @ts-expect-error: plain JavaScript shared with the other Node peers
import { arg, runDriver } from "./node-driver.mjs";

const template = payloadTemplate(Number(arg("--payload", "100")));
const server = createServer({
  host: "127.0.0.1",
  port: 0,
  shutdownGraceMs: 200,
  policies: [{ match: "bench.>", action: "conflate", limitBytes: 1_048_576, retain: true }],
});
const { port } = await server.listen();
const broker = internals(server).broker;

await runDriver({
  name: "tickgate-node",
  port,
  publish(n: number, ts: number) {
    const raw = template.slice();
    stamp(raw, raw.length, n, ts);
    broker.publish(TOPIC, { raw }, undefined, "server");
  },
  subscribers: () => {
    let n = 0;
    for (const ch of broker.index.values()) n += ch.binaryCount + ch.textCount;
    return n;
  },
  close: () => server.close(),
});
