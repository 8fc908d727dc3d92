/**
 * Recovery client: one subscriber on the tickgate client SDK (src/client),
 * as an application would use it. Each round the orchestrator arms it with
 * the number of publications it will miss, then has the server drop its
 * connection and publish them into history; the SDK reconnects, resubscribes
 * with its last (epoch, seq) and the server replays. Reports when the
 * connection was lost, when it was back, and when the last missed
 * publication reached the handler, and checks seq order and duplicates.
 *
 * Control (JSON lines): arm {count}, exit. Prints {round} when a round ends.
 * Args: --port P --topic T [--encoding msgpack|json]
 * @module
 */
import { TickgateClient } from "../../../src/client/index.ts";
import { argInt, argValue } from "../../lib/args.ts";

const argv = process.argv;
const port = argInt(argv, "--port", 0, 1, 65535);
const topic = argValue(argv, "--topic", "bench.recover");
const encoding = argValue(argv, "--encoding", "msgpack") as "msgpack" | "json";
const reply = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

// Reconnect at once: the benchmark is about replay, not about the backoff a real client would add.
const client = new TickgateClient(`ws://127.0.0.1:${port}/ws`, { encoding, fallback: false, heartbeatMs: 0, reconnect: { minDelayMs: 5, maxDelayMs: 100, jitter: 0 } });

let lastSeq = 0;
let total = 0;
let gaps = 0;
let round: { count: number; got: number; outOfOrder: number; dup: number; tArm: number; tLost: number; tBack: number; tFirst: number; recoveredBefore: number } | null = null;

client.on("gap", () => gaps++);
client.on("state", (s) => {
  if (!round) return;
  if (s === "reconnecting" && round.tLost === 0) round.tLost = performance.now();
  if (s === "connected" && round.tLost > 0 && round.tBack === 0) round.tBack = performance.now();
});

const sub = client.subscribe(topic, (_data, meta) => {
  total++;
  const r = round;
  if (r) {
    if (meta.seq <= lastSeq) r.dup++;
    else if (meta.seq !== lastSeq + 1) r.outOfOrder++;
  }
  lastSeq = Math.max(lastSeq, meta.seq);
  if (!r || r.tBack === 0) return;
  if (r.got++ === 0) r.tFirst = performance.now();
  if (r.got === r.count) {
    const tDone = performance.now();
    round = null;
    reply({
      round: true,
      count: r.count,
      received: r.got,
      outOfOrder: r.outOfOrder,
      dup: r.dup,
      gaps,
      recovered: client.stats().recovered - r.recoveredBefore,
      lostToBackMs: r.tBack - r.tLost,
      backToFirstMs: r.tFirst - r.tBack,
      backToDoneMs: tDone - r.tBack,
      lostToDoneMs: tDone - r.tLost,
      lastSeq,
    });
  }
});

client.connect();
await client.ready(10_000);
await sub.ready(10_000);
reply({ ready: true });

for await (const line of console) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as { cmd: string; count?: number };
  if (cmd.cmd === "arm") {
    round = { count: cmd.count ?? 10_000, got: 0, outOfOrder: 0, dup: 0, tArm: performance.now(), tLost: 0, tBack: 0, tFirst: 0, recoveredBefore: client.stats().recovered };
    gaps = 0;
    reply({ re: "arm", lastSeq, total });
  } else if (cmd.cmd === "state") reply({ re: "state", lastSeq, total, state: client.state });
  else if (cmd.cmd === "exit") {
    client.close();
    process.exit(0);
  } else reply({ re: cmd.cmd, error: `unknown command ${cmd.cmd}` });
}
process.exit(0);
