/**
 * Bench server: tickgate with a per-topic policy on the bench topic
 * (conflate past 1 MiB, retain the last value), publishing pre-packed
 * msgpack ticks through the broker's raw path, as a feed that already
 * holds msgpack bytes would.
 * Args: --payload BYTES
 * @module
 */
import { createServer } from "../../src/bun.ts";
import { payloadTemplate, stamp, TOPIC } from "../lib/tick.ts";
import { runDriver } from "./driver.ts";
import { argValue } from "../lib/args.ts";

const payloadSize = Number(argValue(process.argv, "--payload", "100"));
const template = payloadTemplate(payloadSize);

const server = createServer({
  host: "127.0.0.1",
  port: 0,
  shutdownGraceMs: 200,
  policies: [{ match: "bench.>", action: "conflate", limitBytes: 1_048_576, retain: true }],
});
const { port } = await server.listen();
const broker = server.broker;

await runDriver({
  name: "tickgate",
  port,
  publish(n, ts) {
    const raw = template.slice();
    stamp(raw, raw.length, n, ts);
    broker.publish(TOPIC, { raw }, undefined, "server");
  },
  subscribers: () => server.broker.index.get(TOPIC)?.binaryCount ?? 0,
  close: () => server.close(),
});
