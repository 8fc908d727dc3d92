/**
 * `topics`: 10,000 topics with a few subscribers each, plus wildcard
 * subscribers that receive every topic. The server publishes round-robin
 * over the topics, so each publication is small fan-out: here tickgate's
 * per-publication work (topic checks, policy, sequencing, retention, frame
 * encoding) weighs more than at 1,000 subscribers per publication.
 * @module
 */
import { summarize, type RunResult } from "../lib/report.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { NO_WINDOW, runTickgate } from "../lib/tickgate-run.ts";
import { quietest } from "../lib/window.ts";

export const topicsScenario: Scenario = {
  name: "topics",
  describe: "10k topics with a few subscribers each, plus wildcard subscribers; publications round-robin over the topics",
  flags: [
    { name: "topics", def: "10000", quick: "200", help: "topics bench.t.0 … bench.t.<K-1>" },
    { name: "subs", def: "2000", quick: "100", help: "subscriber connections (each holds --topics-per-sub topics)" },
    { name: "topics-per-sub", def: "15", quick: "6", help: "topics each connection subscribes to (subscribers per topic = subs × this ÷ topics)" },
    { name: "wildcards", def: "10", quick: "2", help: "extra connections subscribed to bench.t.* (every topic)" },
    { name: "rates", def: "10000,max", quick: "500", help: "publications/s (or max), one run each" },
    { name: "seconds", def: "5", quick: "0.5", help: "measured window per run" },
    { name: "warmup", def: "1", quick: "0.3", help: "publishing before the window opens" },
    { name: "rounds", def: "1", help: "rounds per rate; medians are reported" },
    { name: "retries", def: "2", quick: "0", help: "re-runs of a measurement other programs disturbed" },
    { name: "payload", def: "100", help: "tick payload bytes" },
    { name: "window", def: "1024", help: "at max rate: publications in flight beyond every subscriber's credit" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const topics = f.int("topics", 2, 1_000_000);
    const subs = f.int("subs", 1, 50_000);
    const per = f.int("topics-per-sub", 1, Math.min(1000, topics));
    const wild = f.int("wildcards", 0, 10_000);
    const rates = f.list("rates").map((r) => (r === "max" ? 0 : Number(r)));
    if (rates.some((r) => !Number.isInteger(r) || r < 0)) throw new Error("topics: --rates takes publications/s or max");
    const rounds = f.int("rounds", 1, 20);
    const seconds = f.num("seconds", 0.2, 600);
    const warmup = f.num("warmup", 0, 60);
    const retries = f.int("retries", 0, 10);
    const payload = f.int("payload", 62, 60_000);
    const window = f.int("window", 8, 1_000_000);
    // Subscriptions are spread evenly, so every publication reaches the same number of connections.
    const fanout = (subs * per) / topics + wild;
    ctx.progress.begin("topics", rates.length * rounds);
    const runs: RunResult[] = [];
    for (const rate of rates) {
      for (let round = 0; round < rounds; round++) {
        const label = rate === 0 ? "max" : `${rate}/s`;
        ctx.progress.step(`tickgate: ${fmt.int(topics)} topics, ${fmt.int(subs)} subscribers × ${per} topics + ${wild} wildcards, ${label}`);
        const r = await quietest(retries, () =>
          runTickgate({
            label, round, conns: subs + wild, fanout,
            serverArgs: ["--payload", String(payload), "--topics", String(topics)],
            clientArgs: ["--subs", String(subs), "--topics", String(topics), "--topics-per-sub", String(per), "--wildcards", String(wild)],
            rate, batch: 8, window: rate === 0 ? window : NO_WINDOW, warmup, seconds,
          }, ctx.env),
        (r) => ctx.progress.log(`  ${label.padEnd(8)} ${fmt.int(r.publicationsPerSec)} publications/s, ${fmt.int(r.deliveriesPerSec)} deliveries/s, server ${fmt.f(r.serverCpuUsPerDelivery * fanout, 2)} µs/publication, other programs ${fmt.pct(r.otherCpuPct)}`));
        runs.push(r);
      }
    }
    res.runs = runs;
    const labels = [...new Set(runs.map((r) => r.server))];
    const sums = labels.map((l) => [l, summarize(runs.filter((r) => r.server === l))] as const);
    res.tables.push({
      title: `topics: ${fmt.int(topics)} topics, ${fmt.int(subs)} connections × ${per} topics (${fmt.f((subs * per) / topics, 1)} per topic) + ${wild} on bench.t.* = ${fmt.f(fanout, 1)} deliveries per publication`,
      columns: ["rate", "pub/s", "deliv/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "srv µs/pub", "srv µs/deliv", "srv CPU", "cli CPU", "lost", "dup", "stray", "connect ms", "other"],
      rows: sums.map(([l, s]) => {
        const rr = runs.filter((r) => r.server === l);
        return [
          l, fmt.int(s.deliveriesPerSec / fanout), fmt.int(s.deliveriesPerSec),
          fmt.us(s.latencyUs.p50), fmt.us(s.latencyUs.p90), fmt.us(s.latencyUs.p99), fmt.us(s.latencyUs.p999), fmt.us(s.latencyUs.max),
          fmt.f(s.serverCpuUsPerDelivery * fanout, 2), fmt.f(s.serverCpuUsPerDelivery, 3), fmt.pct(s.serverCpuPct), fmt.pct(s.clientCpuPct),
          String(s.lost), String(s.dup), String(rr.reduce((a, r) => a + (r.unexpected ?? 0), 0)), fmt.int(rr[0]!.connectMs), fmt.pct(s.otherCpuPct),
        ];
      }),
      notes: ["stray: publications a connection received on a topic it did not subscribe to (must be 0)."],
    });
    for (const [l, s] of sums) res.metrics.push({ id: `topics.${l === "max" ? "max" : l.replace("/s", "")}.cpu_per_publication_us`, value: s.serverCpuUsPerDelivery * fanout, better: "lower", describe: `server CPU µs per publication, ${l}` });
    const best = sums.find(([l]) => l === "max")?.[1] ?? sums[0]![1];
    res.headline = `${fmt.int(best.deliveriesPerSec / fanout)} publications/s, ${fmt.f(best.serverCpuUsPerDelivery * fanout, 2)} µs server CPU per publication, p99 ${fmt.us(best.latencyUs.p99)} µs`;
    res.data = { topics, subs, perSub: per, wildcards: wild, fanout };
    return res;
  },
};
