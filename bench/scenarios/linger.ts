/**
 * `linger`: write coalescing at fixed rates where each message is its own
 * write today, against the bare Bun loop in the same run. Two workloads:
 *  - single: N subscribers on one topic, R publications/s;
 *  - prices: N subscribers each on a pattern over S topics ticking T/s each
 *    (`bench.t.*`, the `prices.>` case: coalescing must work across topics).
 * For each, tickgate with `linger` 0, 2, 5, 10 ms and adaptive, and the bare
 * loop (one topic, same publications/s, so the same deliveries); server CPU
 * per delivery and p99 reported as ratios to the bare loop.
 *
 * Clients: the bare loop and tickgate on `single` are read by the fan-out
 * load client (bench/load/client.ts); tickgate on `prices` by the scenario
 * client (its wildcard subscribers), which reads ticks the same way.
 * @module
 */
import { comparePeers, type FanoutConfig, type PeerEnv } from "../lib/fanout.ts";
import { fdLimitPrefix } from "../lib/proc.ts";
import { summarize, type RunResult, type Summary } from "../lib/report.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { check, type TargetResult } from "../lib/targets.ts";
import { runTickgate } from "../lib/tickgate-run.ts";
import { quietest } from "../lib/window.ts";

const LOAD_CLIENT = `${import.meta.dir}/../load/client.ts`;

type Workload = "single" | "prices";

interface Plan {
  workload: Workload;
  subs: number;
  /** Topics the publications spread over (1 for single). */
  topics: number;
  /** Publications/s over all topics. */
  rate: number;
}

const planName = (p: Plan) =>
  p.workload === "single" ? `${fmt.int(p.subs)} subs × ${fmt.int(p.rate)}/s, one topic` : `${fmt.int(p.subs)} subs on bench.t.* × ${p.topics} topics × ${fmt.int(p.rate / p.topics)}/s`;

/** The variant label of a linger value: `linger 5` or `adaptive`. */
const labelOf = (l: string) => (l === "adaptive" ? "adaptive" : `linger ${l}`);

function parseLingers(raw: string[]): string[] {
  for (const l of raw) {
    if (l === "adaptive") continue;
    const n = Number(l);
    if (!Number.isInteger(n) || n < 0 || n > 1000) throw new Error(`linger: --lingers takes ms (0-1000) or adaptive, got '${l}'`);
  }
  return raw;
}

export const lingerScenario: Scenario = {
  name: "linger",
  describe: "write coalescing (policy linger 0/2/5/10 ms and adaptive) at fixed rates, against the bare Bun loop",
  flags: [
    { name: "workloads", def: "single,prices", help: "single (one topic) and/or prices (a pattern over --symbols topics)" },
    { name: "subs", def: "1000", quick: "50", help: "subscribers" },
    { name: "rate", def: "1000", quick: "200", help: "single: publications/s on the one topic" },
    { name: "symbols", def: "100", quick: "10", help: "prices: topics bench.t.0 … bench.t.<S-1>" },
    { name: "tick", def: "10", quick: "20", help: "prices: publications/s per topic" },
    { name: "lingers", def: "0,2,5,10,adaptive", quick: "0,5,adaptive", help: "tickgate variants: linger in ms, or adaptive" },
    { name: "seconds", def: "5", quick: "0.5", help: "measured window per run" },
    { name: "warmup", def: "1", quick: "0.3", help: "publishing before the window opens" },
    { name: "rounds", def: "2", quick: "1", help: "rounds; the order alternates; medians are reported" },
    { name: "retries", def: "2", quick: "0", help: "re-runs of a measurement other programs disturbed (other CPU > 10%)" },
    { name: "payload", def: "100", help: "tick payload bytes" },
    { name: "sample", def: "16", help: "one delivery in N goes into the latency histogram" },
    { name: "window", def: "128", help: "publications in flight beyond what every subscriber has received (as in fanout): a machine that cannot keep up slows the publisher instead of queueing without end" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const subs = f.int("subs", 1, 50_000);
    const symbols = f.int("symbols", 2, 10_000);
    const plans: Plan[] = f.list("workloads").map((w) => {
      if (w === "single") return { workload: w, subs, topics: 1, rate: f.int("rate", 1, 1_000_000) };
      if (w === "prices") return { workload: w, subs, topics: symbols, rate: symbols * f.int("tick", 1, 100_000) };
      throw new Error(`linger: unknown workload '${w}'; known: single, prices`);
    });
    const lingers = parseLingers(f.list("lingers"));
    const [seconds, warmup, rounds, retries] = [f.num("seconds", 0.2, 600), f.num("warmup", 0, 60), f.int("rounds", 1, 20), f.int("retries", 0, 10)];
    const payload = f.int("payload", 62, 60_000);
    const sample = f.int("sample", 1, 1_000_000);
    const window = f.int("window", 16, 1_000_000);
    const labels = ["bare", ...lingers.map(labelOf)];
    ctx.progress.begin("linger", plans.length * labels.length * rounds);

    const byPlan: { plan: Plan; runs: RunResult[]; sum: Record<string, Summary> }[] = [];
    for (const plan of plans) {
      ctx.progress.log(`linger ${planName(plan)}:`);
      const runs: RunResult[] = [];
      const log = (r: RunResult) =>
        ctx.progress.log(`  ${r.server.padEnd(10)} ${fmt.int(r.deliveriesPerSec).padStart(10)} deliveries/s, p50 ${fmt.us(r.latencyUs.p50)} µs, p99 ${fmt.us(r.latencyUs.p99)} µs, server ${r.serverCpuUsPerDelivery.toFixed(3)} µs/delivery, other programs ${fmt.pct(r.otherCpuPct)}`);
      for (let round = 0; round < rounds; round++) {
        for (const label of round % 2 === 0 ? labels : [...labels].reverse()) {
          ctx.progress.step(`${label}: ${planName(plan)}, round ${round + 1}/${rounds}`);
          if (label === "bare") {
            // The bare loop has one topic: the same publications/s reach every subscriber, as on the pattern.
            const cfg: FanoutConfig = { subs: plan.subs, seconds, warmup, rate: plan.rate, payload, rounds: 1, batch: 8, window, sample, servers: ["bare"], retries, json: null, quick: ctx.quick };
            const env: PeerEnv = { place: ctx.env.place, fd: fdLimitPrefix(plan.subs + 256).prefix, hz: ctx.env.hz };
            const cmp = await comparePeers(cfg, env, () => {}, () => {});
            for (const r of cmp.runs) {
              r.round = round;
              log(r);
            }
            runs.push(...cmp.runs);
            continue;
          }
          const linger = label === "adaptive" ? "adaptive" : label.slice("linger ".length);
          const serverArgs = ["--payload", String(payload), "--linger", linger, ...(plan.topics > 1 ? ["--topics", String(plan.topics)] : [])];
          const r = await quietest(retries, () =>
            runTickgate(
              plan.workload === "single"
                ? { label, round, conns: plan.subs, fanout: plan.subs, serverArgs, client: LOAD_CLIENT, clientArgs: ["--subs", String(plan.subs), "--server", "tickgate", "--sample", String(sample)], rate: plan.rate, batch: 8, window, warmup, seconds }
                : { label, round, conns: plan.subs, fanout: plan.subs, serverArgs, clientArgs: ["--subs", "0", "--wildcards", String(plan.subs), "--topics", String(plan.topics), "--sample", String(sample)], rate: plan.rate, batch: 8, window, warmup, seconds },
              ctx.env,
            ),
          log);
          runs.push(r);
        }
      }
      const sum = Object.fromEntries(labels.map((l) => [l, summarize(runs.filter((r) => r.server === l))]));
      byPlan.push({ plan, runs, sum });
      res.runs.push(...runs);
    }

    // ---- one table per workload, every variant as a ratio to the bare loop ----
    for (const { plan, runs, sum } of byPlan) {
      const bare = sum.bare!;
      const offered = plan.rate * plan.subs;
      res.tables.push({
        title: `linger: ${planName(plan)} (${fmt.int(offered)} deliveries/s offered; medians of ${rounds} round(s))`,
        columns: ["server", "deliv/s", "p50 µs", "p99 µs", "p99 × bare", "p99 − bare ms", "srv µs/deliv", "× bare", "TCP segs/deliv", "srv CPU", "cli CPU", "other", "lost", "dup", "note"],
        rows: labels.map((l) => {
          const s = sum[l]!;
          const rr = runs.filter((r) => r.server === l);
          const segs = rr.map((r) => r.tcpSegsPerDelivery).sort((a, b) => a - b)[rr.length >> 1] ?? NaN;
          return [
            l, fmt.int(s.deliveriesPerSec), fmt.us(s.latencyUs.p50), fmt.us(s.latencyUs.p99), fmt.ratio(s.latencyUs.p99 / bare.latencyUs.p99),
            fmt.f((s.latencyUs.p99 - bare.latencyUs.p99) / 1000, 1), fmt.f(s.serverCpuUsPerDelivery, 3), fmt.ratio(s.serverCpuUsPerDelivery / bare.serverCpuUsPerDelivery),
            fmt.f(segs, 3), fmt.pct(s.serverCpuPct), fmt.pct(s.clientCpuPct), fmt.pct(s.otherCpuPct), String(s.lost), String(s.dup),
            [s.deliveriesPerSec < 0.95 * offered ? "saturated" : "", s.otherCpuPct > 10 ? "noisy" : ""].filter(Boolean).join(", "),
          ];
        }),
        notes: [
          "× bare: tickgate ÷ the bare Bun loop in the same run. TCP segs/deliv: machine-wide segments sent per delivery (fewer: more frames per write).",
          plan.workload === "prices" ? "The bare loop publishes the same ticks on one topic (it has no patterns): the same deliveries, each its own write." : "",
          "saturated: fewer than 95% of the offered deliveries/s arrived, so latency is time spent queued.",
        ].filter(Boolean),
      });
      const id = plan.workload;
      for (const l of labels) {
        if (l === "bare") continue;
        const s = sum[l]!;
        const key = l === "adaptive" ? "adaptive" : `${l.slice("linger ".length)}ms`;
        res.metrics.push({ id: `linger.${id}.${key}.cpu_vs_bare`, value: s.serverCpuUsPerDelivery / bare.serverCpuUsPerDelivery, better: "lower", describe: `server CPU per delivery, tickgate ${l} ÷ bare, ${planName(plan)}` });
        res.metrics.push({ id: `linger.${id}.${key}.p99_vs_bare`, value: s.latencyUs.p99 / bare.latencyUs.p99, better: "lower", describe: `p99 latency, tickgate ${l} ÷ bare, ${planName(plan)}` });
      }
    }

    // ---- targets: CPU at the single-topic point (the issue's 1,000 × 1,000), p99 at every point ----
    const single = byPlan.find((b) => b.plan.workload === "single");
    const want = single && single.plan.subs === 1000 && single.plan.rate === 1000 ? undefined : single ? `measured at ${planName(single.plan)}, not the target's 1,000 subs × 1,000/s` : undefined;
    const cpu = (l: string) => (single?.sum[l] && single.sum.bare ? single.sum[l]!.serverCpuUsPerDelivery / single.sum.bare.serverCpuUsPerDelivery : null);
    const missing = (l: string) => (single ? `${l} not in --lingers` : "single workload not run");
    // A verdict from disturbed or saturated windows says little: say so beside it.
    const caveat = (plansUsed: typeof byPlan, l: string): string | undefined => {
      const bad: string[] = [];
      for (const b of plansUsed) {
        for (const k of ["bare", l]) {
          const s = b.sum[k];
          if (!s) continue;
          if (s.otherCpuPct > 10) bad.push(`${k} noisy (other programs ${fmt.pct(s.otherCpuPct)})`);
          if (s.deliveriesPerSec < 0.95 * b.plan.rate * b.plan.subs) bad.push(`${k} saturated`);
        }
      }
      return bad.length ? [...new Set(bad)].join(", ") : undefined;
    };
    const join = (...xs: (string | undefined)[]) => xs.filter(Boolean).join("; ") || undefined;
    const push = (t: TargetResult) => res.targets.push(t);
    for (const [l, tid] of [["linger 5", "linger.cpu_5ms_vs_bare"], ["linger 10", "linger.cpu_10ms_vs_bare"], ["adaptive", "linger.cpu_adaptive_vs_bare"]] as const) {
      push(check(tid, cpu(l), cpu(l) === null ? missing(l) : join(want, single ? caveat([single], l) : undefined)));
    }
    // p99 over the bare loop's, worst over the workloads run.
    const worst = (l: string, f: (s: Summary, bare: Summary) => number): number | null => {
      const xs = byPlan.filter((b) => b.sum[l] && b.sum.bare).map((b) => f(b.sum[l]!, b.sum.bare!));
      return xs.length ? Math.max(...xs) : null;
    };
    const over = (s: Summary, bare: Summary) => (s.latencyUs.p99 - bare.latencyUs.p99) / 1000;
    for (const [l, tid] of [["linger 5", "linger.p99_5ms_over_bare_ms"], ["linger 10", "linger.p99_10ms_over_bare_ms"]] as const) {
      const v = worst(l, over);
      push(check(tid, v, v === null ? missing(l) : join("worst over the workloads run", caveat(byPlan, l))));
    }
    const ad = worst("adaptive", (s, bare) => s.latencyUs.p99 / bare.latencyUs.p99);
    push(check("linger.p99_adaptive_vs_bare", ad, ad === null ? missing("adaptive") : join("worst over the workloads run", caveat(byPlan, "adaptive"))));

    const first = byPlan[0];
    const best = first ? labels.filter((l) => l !== "bare").map((l) => [l, first.sum[l]!.serverCpuUsPerDelivery / first.sum.bare!.serverCpuUsPerDelivery] as const) : [];
    res.headline = first ? `${planName(first.plan)}: CPU/delivery × bare ${best.map(([l, x]) => `${l} ${fmt.ratio(x)}`).join(", ")}` : "nothing run";
    res.data = { plans: byPlan.map((b) => ({ plan: b.plan, summary: b.sum })) };
    return res;
  },
};
