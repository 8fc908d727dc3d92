/**
 * `recovery`: one client (the SDK) misses 10,000 publications — its
 * connection is dropped and they are published into the topic's history
 * while it is away — then reconnects and recovers them. Time to recover
 * (connection back → last missed publication handled) and messages/s.
 * @module
 */
import { Child } from "../lib/child.ts";
import { median } from "../lib/report.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { benchRoute } from "../lib/tickgate-run.ts";

const SERVER = `${import.meta.dir}/../servers/tickgate.ts`;
const CLIENT = `${import.meta.dir}/clients/sdk-recovery.ts`;
const TOPIC = "bench.recover";

interface Round {
  count: number;
  received: number;
  outOfOrder: number;
  dup: number;
  gaps: number;
  recovered: number;
  lostToBackMs: number;
  backToFirstMs: number;
  backToDoneMs: number;
  lostToDoneMs: number;
  publishMs: number;
}

export const recoveryScenario: Scenario = {
  name: "recovery",
  describe: "an SDK client misses 10,000 publications while disconnected, reconnects and recovers them from history",
  flags: [
    { name: "missed", def: "10000", help: "publications the client misses each round" },
    { name: "rounds", def: "5", quick: "2", help: "rounds (drop, publish, reconnect, recover)" },
    { name: "encoding", def: "msgpack", help: "the client's encoding: msgpack | json" },
    { name: "payload", def: "100", help: "tick payload bytes" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const missed = f.int("missed", 1, 1_000_000);
    const rounds = f.int("rounds", 1, 100);
    const encoding = f.str("encoding");
    if (encoding !== "msgpack" && encoding !== "json") throw new Error("recovery: --encoding is msgpack or json");
    const payload = f.int("payload", 62, 60_000);
    ctx.progress.begin("recovery", rounds + 1);
    ctx.progress.step("starting server and SDK client");
    // History holds twice what is missed, so a round never falls out of the window.
    const server = new Child("tickgate server (recovery)", [...ctx.env.place.server, process.execPath, SERVER, "--payload", String(payload), "--history", String(2 * missed)]);
    const out: Round[] = [];
    try {
      const info = await server.next((o) => o.ready === true, 20_000);
      const port = info.port as number;
      const client = new Child("SDK client", [...ctx.env.place.client, process.execPath, CLIENT, "--port", String(port), "--topic", TOPIC, "--encoding", encoding]);
      try {
        await client.next((o) => o.ready === true, 20_000);
        // A first publication gives the client a position (epoch, seq) to recover from.
        await benchRoute(port, "POST", `/bench/burst?topic=${TOPIC}&count=10`);
        for (let i = 0; i < 100; i++) {
          if (((await client.request({ cmd: "state" })).lastSeq as number) >= 10) break;
          await Bun.sleep(20);
        }
        for (let r = 0; r < rounds; r++) {
          ctx.progress.step(`round ${r + 1}/${rounds}: drop the client, publish ${fmt.int(missed)}, let it recover`);
          await client.request({ cmd: "arm", count: missed });
          const burst = await benchRoute(port, "POST", `/bench/burst?topic=${TOPIC}&count=${missed}&kick=1`);
          if (burst.kicked !== 1) throw new Error(`recovery: expected to drop 1 subscriber, dropped ${burst.kicked}`);
          const done = await client.next((o) => o.round === true, 60_000);
          const row = { ...(done as unknown as Round), publishMs: burst.publishMs as number };
          out.push(row);
          ctx.progress.log(`  round ${r + 1}: ${fmt.int(row.received)} recovered in ${fmt.f(row.backToDoneMs, 1)} ms after reconnecting (${fmt.int((row.received * 1000) / row.backToDoneMs)}/s), ${fmt.f(row.lostToDoneMs, 1)} ms from the drop`);
        }
      } finally {
        await client.stop();
      }
    } finally {
      await server.stop();
    }
    const med = (g: (r: Round) => number) => median(out.map(g));
    const rate = (r: Round) => (r.received * 1000) / r.backToDoneMs;
    res.tables.push({
      title: `recovery: the SDK client (${encoding}) misses ${fmt.int(missed)} publications per round, ${rounds} round(s)`,
      columns: ["round", "recovered", "in order", "dup", "gap events", "server publish ms", "drop→back ms", "back→first ms", "back→last ms", "drop→last ms", "msgs/s"],
      rows: [
        ...out.map((r, i) => [String(i + 1), fmt.int(r.received), r.outOfOrder === 0 ? "yes" : `no (${r.outOfOrder})`, String(r.dup), String(r.gaps), fmt.f(r.publishMs, 1), fmt.f(r.lostToBackMs, 1), fmt.f(r.backToFirstMs, 1), fmt.f(r.backToDoneMs, 1), fmt.f(r.lostToDoneMs, 1), fmt.int(rate(r))]),
        ["median", fmt.int(med((r) => r.received)), "", "", "", fmt.f(med((r) => r.publishMs), 1), fmt.f(med((r) => r.lostToBackMs), 1), fmt.f(med((r) => r.backToFirstMs), 1), fmt.f(med((r) => r.backToDoneMs), 1), fmt.f(med((r) => r.lostToDoneMs), 1), fmt.int(med(rate))],
      ],
      notes: [
        "drop→back: the SDK noticing the close and reconnecting (backoff set to 5 ms); back→first: resubscribe with the last (epoch, seq), the ack, the first replayed publication; back→last: the whole replay, handled one by one by the SDK's subscription handler.",
        "msgs/s = recovered ÷ back→last.",
      ],
    });
    res.metrics.push({ id: "recovery.msgs_per_sec", value: med(rate), better: "higher", describe: "publications recovered per second after reconnecting" });
    res.metrics.push({ id: "recovery.time_ms", value: med((r) => r.backToDoneMs), better: "lower", describe: `ms from reconnect to the last of ${missed} recovered publications` });
    res.headline = `${fmt.int(missed)} missed publications recovered in ${fmt.f(med((r) => r.backToDoneMs), 1)} ms after reconnecting (${fmt.int(med(rate))} msgs/s), median of ${out.length}`;
    res.data = { missed, rounds: out };
    return res;
  },
};
