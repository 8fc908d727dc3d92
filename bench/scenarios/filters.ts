/**
 * `filters`: one topic, 10,000 subscribers sharing 100 distinct filters
 * (`sub` with `filter: {any: [...]}`), publications with `tags`. Three
 * variants in the same run: unfiltered subscriptions (the same tagged
 * publications), filters that all pass (every publication still reaches all
 * 10,000), and filters of which one passes (a publication reaches 100).
 * Each distinct filter is a channel checked once per publication, so the
 * cost grows with the filters, not the subscribers.
 * @module
 */
import { summarize, type RunResult, type Summary } from "../lib/report.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { NO_WINDOW, runTickgate } from "../lib/tickgate-run.ts";
import { quietest } from "../lib/window.ts";

const VARIANTS = ["unfiltered", "all-pass", "one-pass"] as const;

export const filtersScenario: Scenario = {
  name: "filters",
  describe: "one topic, 10k subscribers sharing 100 distinct filters over publication tags",
  flags: [
    { name: "subs", def: "10000", quick: "200", help: "subscriber connections on one topic" },
    { name: "filters", def: "100", quick: "10", help: "distinct filters; subscriber i has {any: [g<i % filters>, all]}" },
    { name: "variants", def: VARIANTS.join(","), help: "unfiltered | all-pass (tags [all]) | one-pass (tags [g<k>])" },
    { name: "rate", def: "max", quick: "20", help: "publications/s or max" },
    { name: "seconds", def: "5", quick: "0.5", help: "measured window per run" },
    { name: "warmup", def: "1", quick: "0.3", help: "publishing before the window opens" },
    { name: "rounds", def: "1", help: "rounds; the order alternates; medians are reported" },
    { name: "retries", def: "2", quick: "0", help: "re-runs of a measurement other programs disturbed" },
    { name: "payload", def: "100", help: "tick payload bytes" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const subs = f.int("subs", 1, 50_000);
    const filters = f.int("filters", 1, 10_000);
    const variants = f.list("variants");
    for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`filters: unknown variant '${v}'; known: ${VARIANTS.join(", ")}`);
    const rateRaw = f.str("rate");
    const rate = rateRaw === "max" ? 0 : Number(rateRaw);
    if (!Number.isInteger(rate) || rate < 0) throw new Error("filters: --rate takes publications/s or max");
    const rounds = f.int("rounds", 1, 20);
    const [seconds, warmup, retries, payload] = [f.num("seconds", 0.2, 600), f.num("warmup", 0, 60), f.int("retries", 0, 10), f.int("payload", 62, 60_000)];
    const fanoutOf = (v: string) => (v === "one-pass" ? subs / filters : subs);
    ctx.progress.begin("filters", variants.length * rounds);
    const runs: RunResult[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        ctx.progress.step(`${v}: ${fmt.int(subs)} subscribers, ${filters} filters, rate ${rate === 0 ? "max" : `${rate}/s`}`);
        const mode = v === "one-pass" ? "one" : "all";
        const r = await quietest(retries, () =>
          runTickgate({
            label: v, round, conns: subs, fanout: fanoutOf(v),
            // The unfiltered run publishes the same tags, so only the filtering differs.
            serverArgs: ["--payload", String(payload), "--filters", String(filters), "--filter-mode", mode],
            clientArgs: ["--subs", String(subs), ...(v === "unfiltered" ? [] : ["--filters", String(filters), "--filter-mode", mode])],
            // One-pass: a subscriber sees one publication in `filters`, so its credit trails by that many.
            rate, batch: 8, window: rate === 0 ? Math.max(128, 4 * filters) : NO_WINDOW, warmup, seconds,
          }, ctx.env),
        (r) => ctx.progress.log(`  ${v.padEnd(10)} ${fmt.int(r.publicationsPerSec)} publications/s, ${fmt.int(r.deliveriesPerSec)} deliveries/s, server ${fmt.f(r.serverCpuUsPerDelivery * fanoutOf(v), 1)} µs/publication, other programs ${fmt.pct(r.otherCpuPct)}`));
        runs.push(r);
      }
    }
    res.runs = runs;
    const sum = new Map<string, Summary>(variants.map((v) => [v, summarize(runs.filter((r) => r.server === v))]));
    const base = sum.get("unfiltered");
    res.tables.push({
      title: `filters: ${fmt.int(subs)} subscribers on one topic, ${filters} distinct filters, rate ${rate === 0 ? "max" : `${rate}/s`}`,
      columns: ["variant", "deliv/pub", "pub/s", "deliv/s", "p50 µs", "p90 µs", "p99 µs", "max µs", "srv µs/pub", "× unfiltered", "srv µs/deliv", "srv CPU", "cli CPU", "lost", "dup", "stray", "other"],
      rows: variants.map((v) => {
        const s = sum.get(v)!;
        const perPub = s.serverCpuUsPerDelivery * fanoutOf(v);
        return [
          v, fmt.int(fanoutOf(v)), fmt.int(s.deliveriesPerSec / fanoutOf(v)), fmt.int(s.deliveriesPerSec),
          fmt.us(s.latencyUs.p50), fmt.us(s.latencyUs.p90), fmt.us(s.latencyUs.p99), fmt.us(s.latencyUs.max),
          fmt.f(perPub, 1), base ? fmt.ratio(perPub / (base.serverCpuUsPerDelivery * subs)) : "-", fmt.f(s.serverCpuUsPerDelivery, 3),
          fmt.pct(s.serverCpuPct), fmt.pct(s.clientCpuPct), String(s.lost), String(s.dup),
          String(runs.filter((r) => r.server === v).reduce((a, r) => a + (r.unexpected ?? 0), 0)), fmt.pct(s.otherCpuPct),
        ];
      }),
      notes: ["stray: publications a subscriber received that its filter should have stopped (must be 0)."],
    });
    const all = sum.get("all-pass");
    if (all && base) {
      res.metrics.push({ id: "filters.all_pass_cpu_vs_unfiltered", value: all.serverCpuUsPerDelivery / base.serverCpuUsPerDelivery, better: "lower", describe: "server CPU per publication, all filters passing ÷ unfiltered" });
      res.metrics.push({ id: "filters.all_pass_deliveries_vs_unfiltered", value: all.deliveriesPerSec / base.deliveriesPerSec, better: "higher", describe: "deliveries/s, all filters passing ÷ unfiltered" });
    }
    const head = all ?? sum.get(variants[0]!)!;
    const headV = all ? "all-pass" : variants[0]!;
    res.headline = `${headV}: ${fmt.int(head.deliveriesPerSec)} deliveries/s, ${fmt.f(head.serverCpuUsPerDelivery * fanoutOf(headV), 1)} µs server CPU per publication` + (all && base ? ` (${fmt.ratio(all.serverCpuUsPerDelivery / base.serverCpuUsPerDelivery)} unfiltered)` : "");
    res.data = { subs, filters, summaries: Object.fromEntries(sum) };
    return res;
  },
};
