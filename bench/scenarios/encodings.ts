/**
 * `encodings`: the same fan-out to JSON and to msgpack subscribers, with and
 * without permessage-deflate. Subscribers are Bun's WebSocket client (it
 * inflates natively). What changes is the server's CPU per delivery, the
 * bytes on the wire per delivery, and what the client pays to decode.
 * Then batch frames: a few Bun WebSocket subscribers at max rate (so the
 * client is the bottleneck), with and without batch frames; what changes is
 * the deliveries/s the saturated client gets through.
 * @module
 */
import { summarize, type RunResult } from "../lib/report.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { check } from "../lib/targets.ts";
import { NO_WINDOW, runTickgate } from "../lib/tickgate-run.ts";
import { quietest } from "../lib/window.ts";

const CLIENT = `${import.meta.dir}/clients/ws-subscribers.ts`;
const VARIANTS = ["msgpack", "json", "msgpack+deflate", "json+deflate"] as const;

export const encodingsScenario: Scenario = {
  name: "encodings",
  describe: "JSON vs msgpack subscribers, with and without permessage-deflate",
  flags: [
    { name: "subs", def: "500", quick: "50", help: "subscribers (Bun's WebSocket client)" },
    { name: "rate", def: "200", quick: "100", help: "publications/s (paced: the same work for every variant)" },
    { name: "variants", def: VARIANTS.join(","), help: "msgpack | json | msgpack+deflate | json+deflate" },
    { name: "payload", def: "100", help: "tick payload bytes" },
    { name: "seconds", def: "5", quick: "0.5", help: "measured window per run" },
    { name: "warmup", def: "1", quick: "0.3", help: "publishing before the window opens" },
    { name: "rounds", def: "1", help: "rounds; the order alternates; medians are reported" },
    { name: "retries", def: "2", quick: "0", help: "re-runs of a measurement other programs disturbed" },
    { name: "batch-subs", def: "10", quick: "4", help: "batch frames: subscribers of the saturated comparison (0: skip it)" },
    { name: "batch-turn", def: "32", help: "batch frames: publications per event-loop turn of the publisher at most (the same for both runs)" },
    { name: "batch-window", def: "4096", help: "batch frames: publications in flight beyond what every subscriber has received" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const subs = f.int("subs", 1, 50_000);
    const rate = f.int("rate", 1, 1_000_000);
    const variants = f.list("variants");
    for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`encodings: unknown variant '${v}'; known: ${VARIANTS.join(", ")}`);
    const payload = f.int("payload", 62, 60_000);
    const [seconds, warmup, rounds, retries] = [f.num("seconds", 0.2, 600), f.num("warmup", 0, 60), f.int("rounds", 1, 20), f.int("retries", 0, 10)];
    ctx.progress.begin("encodings", variants.length * rounds);
    const runs: RunResult[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        const deflate = v.endsWith("+deflate") ? "on" : "off";
        const encoding = v.startsWith("json") ? "json" : "msgpack";
        ctx.progress.step(`${v}: ${fmt.int(subs)} subscribers, ${rate}/s`);
        const r = await quietest(retries, () =>
          runTickgate({
            label: v, round, conns: subs, fanout: subs,
            serverArgs: ["--payload", String(payload), "--deflate", deflate],
            clientArgs: ["--subs", String(subs), "--encoding", encoding, "--deflate", deflate],
            client: CLIENT, rate, batch: 8, window: NO_WINDOW, warmup, seconds,
          }, ctx.env),
        (r) => ctx.progress.log(`  ${v.padEnd(16)} server ${r.serverCpuUsPerDelivery.toFixed(3)} µs/delivery, ${fmt.f(r.octetsPerDelivery ?? NaN, 0)} bytes/delivery on the wire, client ${r.clientCpuUsPerDelivery.toFixed(2)} µs/delivery, other programs ${fmt.pct(r.otherCpuPct)}`));
        runs.push(r);
      }
    }
    res.runs = runs;
    const sums = variants.map((v) => [v, summarize(runs.filter((r) => r.server === v))] as const);
    const base = sums.find(([v]) => v === "msgpack")?.[1];
    const octets = (v: string) => runs.filter((r) => r.server === v).map((r) => r.octetsPerDelivery ?? NaN).sort((a, b) => a - b)[0]!;
    res.tables.push({
      title: `encodings: ${fmt.int(subs)} subscribers (Bun WebSocket client), ${rate} publications/s, ${payload}-byte payload`,
      columns: ["variant", "pub/s", "deliv/s", "p50 µs", "p90 µs", "p99 µs", "max µs", "srv µs/deliv", "× msgpack", "wire B/deliv", "srv CPU", "cli µs/deliv", "cli CPU", "lost", "dup"],
      rows: sums.map(([v, s]) => [
        v, fmt.int(s.deliveriesPerSec / subs), fmt.int(s.deliveriesPerSec), fmt.us(s.latencyUs.p50), fmt.us(s.latencyUs.p90), fmt.us(s.latencyUs.p99), fmt.us(s.latencyUs.max),
        fmt.f(s.serverCpuUsPerDelivery, 3), base ? fmt.ratio(s.serverCpuUsPerDelivery / base.serverCpuUsPerDelivery) : "-",
        fmt.f(octets(v), 0), fmt.pct(s.serverCpuPct), fmt.f(s.clientCpuUsPerDelivery, 2), fmt.pct(s.clientCpuPct), String(s.lost), String(s.dup),
      ]),
      notes: [
        "wire B/deliv: IP bytes sent machine-wide per delivery (frame, TCP/IP headers, ACKs; loopback counts each packet once).",
        `pub/s below ${rate}: the server could not publish at the offered rate (its core was full), so the publication loop fell behind; nothing is lost, it is slower.`,
      ],
    });
    for (const [v, s] of sums) if (base && v !== "msgpack") res.metrics.push({ id: `encodings.${v}.cpu_vs_msgpack`, value: s.serverCpuUsPerDelivery / base.serverCpuUsPerDelivery, better: "lower", describe: `server CPU per delivery, ${v} ÷ msgpack` });
    res.headline = sums.map(([v, s]) => `${v} ${fmt.f(s.serverCpuUsPerDelivery, 2)} µs/${fmt.f(octets(v), 0)} B`).join(", ") + " per delivery";
    res.data = { subs, rate };

    // ---- batch frames: a saturated Bun WebSocket subscriber with and without them ----
    const bSubs = f.int("batch-subs", 0, 10_000);
    if (bSubs > 0) {
      const turn = f.int("batch-turn", 1, 10_000);
      const window = f.int("batch-window", 8, 1_000_000);
      const kinds = ["plain", "batch"] as const;
      const bruns: RunResult[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const k of round % 2 === 0 ? kinds : [...kinds].reverse()) {
          const label = `msgpack ${k} @ max`;
          ctx.progress.step(`${label}: ${bSubs} subscribers`);
          const r = await quietest(retries, () =>
            runTickgate({
              label, round, conns: bSubs, fanout: bSubs,
              serverArgs: ["--payload", String(payload)],
              clientArgs: ["--subs", String(bSubs), "--encoding", "msgpack", "--deflate", "off", "--batch", k === "batch" ? "on" : "off"],
              client: CLIENT, rate: 0, batch: turn, window, warmup, seconds,
            }, ctx.env),
          (r) => ctx.progress.log(`  ${label.padEnd(20)} ${fmt.int(r.deliveriesPerSec)} deliveries/s, client ${r.clientCpuUsPerDelivery.toFixed(2)} µs/delivery (${fmt.pct(r.clientCpuPct)}), server ${r.serverCpuUsPerDelivery.toFixed(3)} µs/delivery, other programs ${fmt.pct(r.otherCpuPct)}`));
          bruns.push(r);
        }
      }
      res.runs.push(...bruns);
      const bs = kinds.map((k) => [k, summarize(bruns.filter((r) => r.server === `msgpack ${k} @ max`))] as const);
      const plain = bs[0]![1];
      res.tables.push({
        title: `encodings, batch frames: ${bSubs} Bun WebSocket subscribers at max rate (≤ ${turn} publications per turn, window ${window}; medians of ${rounds} round(s))`,
        columns: ["frames", "deliv/s", "× plain", "p50 µs", "p99 µs", "cli µs/deliv", "cli CPU", "srv µs/deliv", "srv CPU", "other", "lost", "dup"],
        rows: bs.map(([k, s]) => [
          k, fmt.int(s.deliveriesPerSec), fmt.ratio(s.deliveriesPerSec / plain.deliveriesPerSec), fmt.us(s.latencyUs.p50), fmt.us(s.latencyUs.p99),
          fmt.f(s.clientCpuUsPerDelivery, 2), fmt.pct(s.clientCpuPct), fmt.f(s.serverCpuUsPerDelivery, 3), fmt.pct(s.serverCpuPct), fmt.pct(s.otherCpuPct), String(s.lost), String(s.dup),
        ]),
        notes: ["The publisher is held to what the slowest subscriber has received (credit), so the client's core sets the pace; cli CPU near 100% means saturated. Both read each tick at its fixed offsets; a batch's elements are found with the protocol's msgpack scanner."],
      });
      const ratio = bs[1]![1].deliveriesPerSec / plain.deliveriesPerSec;
      const saturated = plain.clientCpuPct >= 80;
      res.targets.push(check("encodings.batch_deliveries_vs_plain", ratio, saturated ? undefined : `the plain client used ${fmt.pct(plain.clientCpuPct)} of its core: not saturated, so the ratio understates batch frames`));
      res.metrics.push({ id: `encodings.batch.${bSubs}x${turn}.deliveries_vs_plain`, value: ratio, better: "higher", describe: `deliveries/s of a saturated Bun WebSocket subscriber, batch frames ÷ plain (${bSubs} subscribers)` });
      res.metrics.push({ id: `encodings.batch.${bSubs}x${turn}.client_cpu_vs_plain`, value: bs[1]![1].clientCpuUsPerDelivery / plain.clientCpuUsPerDelivery, better: "lower", describe: `client CPU per delivery of Bun WebSocket subscribers, batch frames ÷ plain (${bSubs} subscribers)` });
      res.headline += `; batch frames ${fmt.ratio(ratio)} deliveries/s of a saturated subscriber`;
      res.data.batch = Object.fromEntries(bs);
    }
    return res;
  },
};
