/**
 * Bench server: tickgate with per-topic policies, publishing pre-packed
 * msgpack ticks through the broker's raw path, as a feed that already holds
 * msgpack bytes would. With only `--payload` (what PEERS passes) it is the
 * fan-out peer: one topic, conflate past 1 MiB, retain the last value.
 *
 * Args (all optional):
 *   --payload BYTES        tick size (100)
 *   --history N            per-topic history on bench.> (0: off)
 *   --action A             bench.> backpressure action: conflate | drop | disconnect
 *   --limit-bytes N        bench.> policy limitBytes (1 MiB)
 *   --auth-secret S        auth required, HS256 tokens signed with S
 *   --deflate on           permessage-deflate offered to clients
 *   --topics K             publication n goes to bench.t.<(n-1) % K> (K > 1)
 *   --filters F            publications carry tags for F filter groups
 *   --filter-mode all|one  all: every group's filter passes; one: group (n-1) % F only
 *   --publish-limit N      publishes/s per connection and per HTTP client (ingest)
 *   --max-conns N          connection limits, total and per address (connections)
 *   --check-interval MS    slow-consumer sweep interval (default: the server's, 50 ms)
 *   --linger MS|adaptive   bench.> write coalescing (policy `linger`; default 0)
 * Extra HTTP routes for the orchestrator: POST /bench/gc, GET /bench/counters,
 * POST /bench/burst?topic=&count=&kick=1 (recovery).
 * @module
 */
import { createServer } from "../../src/adapter/bun/index.ts";
import { internals } from "../../src/internal.ts";
import { argValue } from "../lib/args.ts";
import { payloadTemplate, stamp, TOPIC } from "../lib/tick.ts";
import { runDriver } from "./driver.ts";

const argv = process.argv;
const num = (name: string, def: number) => {
  const n = Number(argValue(argv, name, String(def)));
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number ≥ 0`);
  return n;
};
const payloadSize = num("--payload", 100);
const history = num("--history", 0);
const action = argValue(argv, "--action", "conflate") as "conflate" | "drop" | "disconnect";
const limitBytes = num("--limit-bytes", 1_048_576);
const secret = argValue(argv, "--auth-secret", "");
const deflate = argValue(argv, "--deflate", "off") === "on";
const topics = num("--topics", 0);
const filters = num("--filters", 0);
const filterMode = argValue(argv, "--filter-mode", "all");
const publishLimit = num("--publish-limit", 0);
const maxConns = num("--max-conns", 0);
const checkInterval = num("--check-interval", 0);
const lingerArg = argValue(argv, "--linger", "0");
const linger = lingerArg === "adaptive" ? "adaptive" : Number(lingerArg);
if (linger !== "adaptive" && !(Number.isInteger(linger) && linger >= 0)) throw new Error("--linger must be ms (an integer ≥ 0) or adaptive");
const template = payloadTemplate(payloadSize);

const server = createServer({
  host: "127.0.0.1",
  port: 0,
  shutdownGraceMs: 200,
  perMessageDeflate: deflate,
  ...(checkInterval > 0 ? { slowConsumer: { checkIntervalMs: checkInterval } } : {}),
  policies: [
    { match: "bench.>", action, limitBytes, retain: true, historySize: history, linger },
    // Devices' telemetry (ingest): drop for slow readers, keep each device's last value.
    { match: "telemetry.>", action: "drop", retain: true },
  ],
  ...(secret ? { auth: { required: true, secret } } : {}),
  limits: {
    ...(publishLimit > 0 ? { publishPerSecond: publishLimit, publishBurst: publishLimit } : {}),
    // The default per-address cap (10,000) would refuse a loopback ramp long before the machine's limit.
    ...(maxConns > 0 ? { maxConnections: maxConns, maxConnectionsPerIp: maxConns } : {}),
  },
});
const { port } = await server.listen();
const broker = internals(server).broker;

// Built once: the publish loop should cost what tickgate costs, not string building.
const topicNames = topics > 1 ? Array.from({ length: topics }, (_, k) => `bench.t.${k}`) : [TOPIC];
const ALL: readonly string[] = ["all"];
const groupTags = Array.from({ length: filters }, (_, g) => [`g${g}`] as readonly string[]);
const tagsFor = (n: number): readonly string[] | undefined => (filters === 0 ? undefined : filterMode === "one" ? groupTags[(n - 1) % filters] : ALL);

function tick(n: number, ts: number): Uint8Array {
  const raw = template.slice();
  stamp(raw, raw.length, n, ts);
  return raw;
}

server
  .route("POST", "/bench/gc", () => {
    Bun.gc(true);
    return Response.json({ ok: true });
  })
  .route("GET", "/bench/counters", () => Response.json({ ...broker.counters, connections: server.connections, guard: internals(server).guard.counters, lagging: internals(server).guard.laggingSessions }))
  .route("POST", "/bench/burst", (_req, { url }) => {
    // Recovery: drop the topic's subscribers, then publish `count` into its
    // history in the same turn, so all of it lands while they are away.
    const topic = url.searchParams.get("topic") ?? "bench.recover";
    const count = Number(url.searchParams.get("count") ?? 0);
    let kicked = 0;
    if (url.searchParams.get("kick") === "1") {
      for (const ch of broker.index.values()) {
        if (ch.base !== topic) continue;
        for (const s of ch.members) {
          s.socket?.close(1012, "bench: dropped to test recovery");
          kicked++;
        }
      }
    }
    const first = (broker.topics.get(topic)?.seq ?? 0) + 1;
    const t0 = performance.now();
    for (let i = 0; i < count; i++) broker.publish(topic, { raw: tick(first + i, performance.timeOrigin + performance.now()) }, undefined, "server");
    return Response.json({ kicked, published: count, firstSeq: first, lastSeq: first + count - 1, publishMs: performance.now() - t0 });
  });

await runDriver({
  name: "tickgate",
  port,
  publish(n, ts) {
    broker.publish(topicNames[topics > 1 ? (n - 1) % topics : 0]!, { raw: tick(n, ts) }, undefined, "server", tagsFor(n));
  },
  subscribers: () => {
    let n = 0;
    for (const ch of broker.index.values()) n += ch.binaryCount + ch.textCount;
    return n;
  },
  close: () => server.close(),
});
