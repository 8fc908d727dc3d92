/**
 * `fanout`: 1 publisher → N subscribers on one topic, 100-byte msgpack
 * ticks, at fixed rates and at max rate, every available peer in PEERS in
 * the same run (bench/fanout.ts), each reported as a ratio to tickgate
 * (whose publisher is its own loop calling the broker). tickgate is also
 * driven through its client protocol, the path users take: a client
 * publisher on the load core sends `pub` frames (`tickgate-pub`; its
 * subscribers, like every tickgate row's, wait for their `sub` ack). Then
 * tickgate alone, same workload, with per-topic history on vs off and
 * with token-authenticated vs anonymous subscribers.
 * @module
 */
import { Child } from "../lib/child.ts";
import { comparePeers, type FanoutConfig, type PeerEnv } from "../lib/fanout.ts";
import { defaultPeers, PEERS } from "../lib/peers.ts";
import { fdLimitPrefix } from "../lib/proc.ts";
import { median, NOISY_PCT, summarize, type RunResult, type Summary } from "../lib/report.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext, type Table } from "../lib/scenario.ts";
import { check } from "../lib/targets.ts";
import { relativeSpread, runTickgate } from "../lib/tickgate-run.ts";
import { measureWindow, quietest } from "../lib/window.ts";

interface Point {
  subs: number;
  /** Publications/s; 0 = max. */
  rate: number;
}

const pointName = (p: Point) => `${p.subs >= 1000 && p.subs % 1000 === 0 ? `${p.subs / 1000}k` : p.subs} subs @ ${p.rate === 0 ? "max" : `${p.rate}/s`}`;
const pointId = (p: Point) => `${p.subs}x${p.rate === 0 ? "max" : p.rate}`;

function parsePoints(raw: string[]): Point[] {
  return raw.map((s) => {
    const m = /^(\d+):(max|\d+)$/.exec(s);
    if (!m) throw new Error(`fanout: --points takes SUBS:RATE pairs such as 1000:max,1000:1000, got '${s}'`);
    const subs = Number(m[1]);
    if (subs < 1 || subs > 50_000) throw new Error(`fanout: subscribers must be in [1, 50000], got ${subs}`);
    return { subs, rate: m[2] === "max" ? 0 : Number(m[2]) };
  });
}

/** The Node + ws peer, whatever name it lands under in PEERS. */
function nodeWsPeer(): string | undefined {
  return Object.keys(PEERS).find((k) => /^(node-?ws|ws)$/i.test(k));
}

const TICKGATE = `${import.meta.dir}/../servers/tickgate.ts`;
const PUBLISHER = `${import.meta.dir}/clients/publisher.ts`;
const LOAD_CLIENT = `${import.meta.dir}/../load/client.ts`;
/** The row of tickgate fed by a client publisher's `pub` frames. */
export const CLIENT_PUB = "tickgate-pub";

/**
 * The bench server's flags for a client-publisher window: no publish limit,
 * and room for every subscriber plus the publisher, all from one address
 * (the default per-address cap, 10,000, refused the publisher's peer at
 * 10,000 subscribers).
 */
export function clientPublisherServerArgs(subs: number, payload: number): string[] {
  return ["--payload", String(payload), "--publish-limit", "1000000000", "--max-conns", String(subs + 16)];
}

/**
 * One window of tickgate fed through its client protocol: the server (no
 * publish loop of its own), a publisher process sending `pub` frames and
 * the fan-out load client, both on the client's core. The publisher runs
 * the publish loop and takes the load client's credit.
 */
async function runClientPublisher(round: number, subs: number, rate: number, base: { payload: number; sample: number; window: number; batch: number; warmup: number; seconds: number }, env: PeerEnv) {
  const server = new Child("tickgate server (client publisher)", [...env.fd, ...env.place.server, process.execPath, TICKGATE, ...clientPublisherServerArgs(subs, base.payload)]);
  try {
    const info = await server.next((o) => o.ready === true, 20_000);
    const pub = new Child("client publisher", [...env.place.client, process.execPath, PUBLISHER, "--port", String(info.port), "--payload", String(base.payload)]);
    try {
      const pinfo = await pub.next((o) => o.ready === true, 20_000);
      const client = new Child("load client", [
        ...env.fd, ...env.place.client, process.execPath, LOAD_CLIENT, "--port", String(info.port), "--credit-port", String(pinfo.creditPort),
        "--subs", String(subs), "--server", "tickgate", "--sample", String(base.sample), "--credit-step", String(Math.max(1, base.window >> 2)),
      ]);
      try {
        const ready = await client.next((o) => o.ready === true, 90_000);
        return await measureWindow(server, client, ready, { label: CLIENT_PUB, round, fanout: subs, warmup: base.warmup, seconds: base.seconds, rate, batch: base.batch, window: base.window, hz: env.hz, publisher: pub });
      } finally {
        await client.stop();
      }
    } finally {
      await pub.stop();
    }
  } finally {
    await server.stop();
  }
}

/** A secret only for this run: the variant's tokens are minted by the client from it. */
const SECRET = `bench-${crypto.randomUUID()}-secret-padding`;

export const fanoutScenario: Scenario = {
  name: "fanout",
  describe: "1 publisher → N subscribers on one topic; every peer in PEERS; history on/off and auth on/off",
  flags: [
    { name: "points", def: "1000:max,1000:1000,1000:100,10000:max,10000:10", quick: "50:200", help: "SUBS:RATE pairs measured for every peer (RATE: publications/s or max)" },
    { name: "servers", def: defaultPeers().join(","), help: "peers to compare (names in bench/lib/peers.ts); unavailable ones are skipped and said so" },
    { name: "seconds", def: "5", quick: "0.5", help: "measured window per run" },
    { name: "warmup", def: "1", quick: "0.3", help: "publishing before the window opens" },
    { name: "rounds", def: "2", quick: "1", help: "rounds per point; the order alternates; medians are reported" },
    { name: "retries", def: "2", quick: "0", help: "re-runs of a measurement other programs disturbed (other CPU > 10%)" },
    { name: "payload", def: "100", help: "tick payload bytes (≥ 62)" },
    { name: "batch", def: "8", help: "publications per event-loop turn at most" },
    { name: "window", def: "128", help: "publications in flight beyond what every subscriber has received" },
    { name: "sample", def: "16", help: "one delivery in N goes into the latency histogram" },
    { name: "client-publisher", def: "on", help: "also run tickgate fed by a client publisher's pub frames (row tickgate-pub), the path users take" },
    { name: "variants", def: "history,auth", help: "tickgate-only variants: history (per-topic history on vs off), auth (tokens vs anonymous); 'none' to skip" },
    { name: "variant-point", def: "1000:max", quick: "50:max", help: "SUBS:RATE of the variant runs" },
    { name: "history", def: "10000", quick: "1000", help: "history size per topic when history is on" },
    { name: "variant-rounds", def: "4", quick: "1", help: "rounds of the variant runs: their spread is the noise band the auth verdict uses" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const points = parsePoints(f.list("points"));
    const base = {
      seconds: f.num("seconds", 0.2, 600),
      warmup: f.num("warmup", 0, 60),
      rounds: f.int("rounds", 1, 20),
      retries: f.int("retries", 0, 10),
      payload: f.int("payload", 62, 60_000),
      batch: f.int("batch", 1, 10_000),
      window: f.int("window", 1, 1_000_000),
      sample: f.int("sample", 1, 1_000_000),
    };
    const servers = f.list("servers");
    const variants = f.list("variants").filter((v) => v !== "none");
    for (const v of variants) if (v !== "history" && v !== "auth") throw new Error(`fanout: unknown variant '${v}'; known: history, auth`);
    const clientPub = f.bool("client-publisher") && servers.includes("tickgate");
    const servCount = servers.length + (clientPub ? 1 : 0);
    ctx.progress.begin("fanout", points.length * servCount * base.rounds + (variants.length ? (variants.length + 1) * f.int("variant-rounds", 1, 20) : 0));

    const byPoint: { point: Point; runs: RunResult[]; summary: Partial<Record<string, Summary>> }[] = [];
    let unavailable: Record<string, string> = {};
    for (const point of points) {
      const cfg: FanoutConfig = { ...base, subs: point.subs, rate: point.rate, servers, json: null, quick: ctx.quick };
      const env: PeerEnv = { place: ctx.env.place, fd: fdLimitPrefix(point.subs + 256).prefix, hz: ctx.env.hz };
      ctx.progress.log(`fanout ${pointName(point)}:`);
      const cmp = await comparePeers(cfg, env, (l) => ctx.progress.log(l), (l) => ctx.progress.step(l));
      unavailable = cmp.unavailable;
      if (clientPub) {
        // After the peers' rounds: the same workload, tickgate fed by pub frames from a client.
        const runs = [];
        for (let round = 0; round < base.rounds; round++) {
          ctx.progress.step(`${CLIENT_PUB}: ${point.subs.toLocaleString("en-US")} subscribers, rate ${point.rate === 0 ? "max" : `${point.rate}/s`}, round ${round + 1}/${base.rounds}`);
          runs.push(await quietest(base.retries, () => runClientPublisher(round, point.subs, point.rate, base, env), (r) =>
            ctx.progress.log(`  round ${round + 1} ${CLIENT_PUB.padEnd(8)} ${fmt.int(r.deliveriesPerSec).padStart(10)} deliveries/s, p99 ${r.latencyUs.p99} µs, server ${r.serverCpuUsPerDelivery.toFixed(3)} µs/delivery, client CPU ${r.clientCpuPct.toFixed(0)}%, other programs ${r.otherCpuPct.toFixed(0)}%`)));
        }
        cmp.runs.push(...runs);
        cmp.summary[CLIENT_PUB] = summarize(runs);
      }
      res.runs.push(...cmp.runs);
      byPoint.push({ point, runs: cmp.runs, summary: cmp.summary });
    }
    for (const [k, why] of Object.entries(unavailable)) res.notes.push(`${k}: unavailable here (${why}); not measured.`);

    // ---- one table per point, every peer as a ratio to tickgate ----
    for (const { point, summary } of byPoint) {
      const tg = summary.tickgate;
      const rows = Object.entries(summary).map(([name, s]) => {
        const x = s!;
        return [
          name,
          fmt.int(x.deliveriesPerSec),
          tg ? fmt.ratio(x.deliveriesPerSec / tg.deliveriesPerSec) : "-",
          fmt.us(x.latencyUs.p50), fmt.us(x.latencyUs.p90), fmt.us(x.latencyUs.p99), fmt.us(x.latencyUs.p999), fmt.us(x.latencyUs.max),
          tg ? fmt.ratio(x.latencyUs.p99 / tg.latencyUs.p99) : "-",
          fmt.f(x.serverCpuUsPerDelivery, 3),
          tg ? fmt.ratio(x.serverCpuUsPerDelivery / tg.serverCpuUsPerDelivery) : "-",
          fmt.pct(x.serverCpuPct), fmt.pct(x.clientCpuPct), fmt.pct(x.otherCpuPct),
          String(x.lost), String(x.dup),
          [x.clientSaturated ? "client saturated" : "", x.otherCpuPct > 10 ? "noisy" : ""].filter(Boolean).join(", "),
        ];
      });
      const table: Table = {
        title: `fanout ${pointName(point)} (medians of ${base.rounds} round(s))`,
        columns: ["server", "deliv/s", "× tickgate", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "p99 × tg", "srv µs/deliv", "× tickgate", "srv CPU", "cli CPU", "other", "lost", "dup", "note"],
        rows,
      };
      const notes: string[] = [];
      if (Object.values(summary).some((s) => s?.latencyUs.p90 === undefined)) notes.push("p90 '-': the fan-out load client (bench/load/client.ts) does not report it.");
      if (summary[CLIENT_PUB]) notes.push(`tickgate: its own publish loop calls the broker; ${CLIENT_PUB}: a client on the load core sends pub frames (decoded, checked, sequenced), its CPU counted as client CPU.`);
      if (notes.length) table.notes = notes;
      res.tables.push(table);
      res.chart.push({
        title: `fanout ${pointName(point)}`,
        series: Object.entries(summary).map(([server, s]) => ({ server, deliveriesPerSec: s!.deliveriesPerSec, latencyUs: s!.latencyUs })),
      });
      if (tg) {
        for (const [name, s] of Object.entries(summary)) {
          if (name === "tickgate" || !s) continue;
          const noisy = tg.otherCpuPct > NOISY_PCT || s.otherCpuPct > NOISY_PCT;
          res.metrics.push({ id: `fanout.${pointId(point)}.deliveries_vs_${name}`, value: tg.deliveriesPerSec / s.deliveriesPerSec, better: "higher", describe: `deliveries/s, tickgate ÷ ${name}, ${pointName(point)}`, noisy });
          res.metrics.push({ id: `fanout.${pointId(point)}.cpu_vs_${name}`, value: tg.serverCpuUsPerDelivery / s.serverCpuUsPerDelivery, better: "lower", describe: `server CPU per delivery, tickgate ÷ ${name}, ${pointName(point)}`, noisy });
          if (point.rate > 0) res.metrics.push({ id: `fanout.${pointId(point)}.p99_vs_${name}`, value: tg.latencyUs.p99 / s.latencyUs.p99, better: "lower", describe: `p99 latency, tickgate ÷ ${name}, ${pointName(point)}`, noisy });
        }
      }
    }

    // ---- targets: at the issue's points when measured, else the nearest and said so ----
    const at = (want: Point, paced: boolean) =>
      byPoint.find((b) => b.point.subs === want.subs && b.point.rate === want.rate) ?? byPoint.find((b) => (b.point.rate > 0) === paced);
    const noteFor = (b: { point: Point } | undefined, want: Point) => (b && (b.point.subs !== want.subs || b.point.rate !== want.rate) ? `measured at ${pointName(b.point)}, not the target's ${pointName(want)}` : undefined);
    const maxPt = at({ subs: 1000, rate: 0 }, false);
    const tgMax = maxPt?.summary.tickgate;
    const bareMax = maxPt?.summary.bare;
    const wantMax = { subs: 1000, rate: 0 };
    const missing = (who: string, pt: unknown = maxPt) => (pt ? `${who} not measured${unavailable[who] ? ` (${unavailable[who]})` : ""}` : "no such point in this run (--points)");
    res.targets.push(check("fanout.cpu_per_delivery_vs_bare", tgMax && bareMax ? tgMax.serverCpuUsPerDelivery / bareMax.serverCpuUsPerDelivery : null, tgMax && bareMax ? noteFor(maxPt, wantMax) : missing("bare")));
    res.targets.push(check("fanout.deliveries_vs_bare", tgMax && bareMax ? tgMax.deliveriesPerSec / bareMax.deliveriesPerSec : null, tgMax && bareMax ? noteFor(maxPt, wantMax) : missing("bare")));
    const nodeWs = nodeWsPeer();
    const nodeMax = nodeWs ? maxPt?.summary[nodeWs] : undefined;
    res.targets.push(check("fanout.deliveries_vs_node_ws", tgMax && nodeMax ? tgMax.deliveriesPerSec / nodeMax.deliveriesPerSec : null, tgMax && nodeMax ? noteFor(maxPt, wantMax) : nodeWs ? missing(nodeWs) : "no Node + ws peer in bench/lib/peers.ts yet"));
    const wantFixed = { subs: 1000, rate: 1000 };
    const fixedPt = at(wantFixed, true);
    const tgFix = fixedPt?.summary.tickgate;
    const bareFix = fixedPt?.summary.bare;
    let fixNote = tgFix && bareFix ? noteFor(fixedPt, wantFixed) : missing("bare", fixedPt);
    if (fixedPt && tgFix) {
      // A paced point the machine cannot sustain measures queueing, not the server: say so beside the verdict.
      const offered = fixedPt.point.rate * fixedPt.point.subs;
      const pair = [tgFix, bareFix].filter((s): s is Summary => s !== undefined);
      const worst = Math.min(...pair.map((s) => s.deliveriesPerSec));
      if (worst < 0.95 * offered) fixNote = [fixNote, `saturated: only ${fmt.int(worst)} of ${fmt.int(offered)} deliveries/s offered arrived, so p99 is time spent queued`].filter(Boolean).join("; ");
    }
    res.targets.push(check("fanout.p99_fixed_vs_bare", tgFix && bareFix ? tgFix.latencyUs.p99 / bareFix.latencyUs.p99 : null, fixNote));

    // ---- tickgate-only variants: same workload, the scenario client on both sides of each comparison ----
    if (variants.length > 0) {
      const [vp] = parsePoints([f.str("variant-point")]);
      const history = f.int("history", 1, 1_000_000);
      const vRounds = f.int("variant-rounds", 1, 20);
      const labels = ["tickgate", ...variants.map((v) => `tickgate+${v}`)];
      const vruns: RunResult[] = [];
      for (let round = 0; round < vRounds; round++) {
        for (const label of round % 2 === 0 ? labels : [...labels].reverse()) {
          ctx.progress.step(`${label}: ${pointName(vp!)}, round ${round + 1}/${vRounds}`);
          const serverArgs = ["--payload", String(base.payload)];
          if (label === "tickgate+history") serverArgs.push("--history", String(history));
          if (label === "tickgate+auth") serverArgs.push("--auth-secret", SECRET);
          const clientArgs = ["--subs", String(vp!.subs), "--sample", String(base.sample), ...(label === "tickgate+auth" ? ["--auth-secret", SECRET] : [])];
          const r = await quietest(base.retries, () =>
            runTickgate({ label, round, conns: vp!.subs, fanout: vp!.subs, serverArgs, clientArgs, rate: vp!.rate, batch: base.batch, window: base.window, warmup: base.warmup, seconds: base.seconds }, ctx.env),
          (r) => ctx.progress.log(`  round ${round + 1} ${label.padEnd(17)} ${fmt.int(r.deliveriesPerSec).padStart(10)} deliveries/s, p99 ${r.latencyUs.p99} µs, server ${r.serverCpuUsPerDelivery.toFixed(3)} µs/delivery, other programs ${r.otherCpuPct.toFixed(0)}%`));
          vruns.push(r);
        }
      }
      res.runs.push(...vruns);
      const sum = Object.fromEntries(labels.map((l) => [l, summarize(vruns.filter((r) => r.server === l))])) as Record<string, Summary>;
      const plain = sum.tickgate!;
      res.tables.push({
        title: `fanout variants, tickgate only, ${pointName(vp!)} (scenario client; medians of ${vRounds} round(s))`,
        columns: ["variant", "deliv/s", "× plain", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "srv µs/deliv", "× plain", "connect ms", "lost", "dup", "spread deliv/s", "other"],
        rows: labels.map((l) => {
          const s = sum[l]!;
          const runsOf = vruns.filter((r) => r.server === l);
          return [
            l, fmt.int(s.deliveriesPerSec), fmt.ratio(s.deliveriesPerSec / plain.deliveriesPerSec),
            fmt.us(s.latencyUs.p50), fmt.us(s.latencyUs.p90), fmt.us(s.latencyUs.p99), fmt.us(s.latencyUs.p999), fmt.us(s.latencyUs.max),
            fmt.f(s.serverCpuUsPerDelivery, 3), fmt.ratio(s.serverCpuUsPerDelivery / plain.serverCpuUsPerDelivery),
            fmt.int(median(runsOf.map((r) => r.connectMs))), String(s.lost), String(s.dup), `${(relativeSpread(runsOf.map((r) => r.deliveriesPerSec)) * 100).toFixed(1)}%`, fmt.pct(s.otherCpuPct),
          ];
        }),
        notes: [`history on: --history ${history} per topic; auth on: HS256 token per subscriber (verified on connect), auth required.`],
      });
      const vNote = vp!.subs === 1000 && vp!.rate === 0 ? undefined : `measured at ${pointName(vp!)}, not the target's 1k subs @ max`;
      if (sum["tickgate+history"]) {
        const cost = 1 - sum["tickgate+history"].deliveriesPerSec / plain.deliveriesPerSec;
        res.targets.push(check("fanout.history_cost", cost, vNote));
        res.metrics.push({ id: "fanout.history_ratio", value: 1 - cost, better: "higher", describe: "deliveries/s, history on ÷ off" });
      }
      if (sum["tickgate+auth"]) {
        const ratio = sum["tickgate+auth"].deliveriesPerSec / plain.deliveriesPerSec;
        // The noise band: how far this run's rounds of the same configuration spread apart.
        const noise = Math.max(relativeSpread(vruns.filter((r) => r.server === "tickgate").map((r) => r.deliveriesPerSec)), relativeSpread(vruns.filter((r) => r.server === "tickgate+auth").map((r) => r.deliveriesPerSec)));
        res.targets.push(check("fanout.auth_cost", ratio, [vNote, vRounds < 2 ? "one round: noise is the floor only" : undefined].filter(Boolean).join("; ") || undefined, noise));
        res.metrics.push({ id: "fanout.auth_ratio", value: ratio, better: "higher", describe: "deliveries/s, auth on ÷ off" });
      }
      res.data.variants = sum;
    }

    const first = byPoint[0];
    const tg0 = first?.summary.tickgate;
    res.headline = tg0 ? `${pointName(first!.point)}: tickgate ${fmt.int(tg0.deliveriesPerSec)} deliveries/s, p99 ${fmt.us(tg0.latencyUs.p99)} µs` + (first!.summary.bare ? ` (${fmt.ratio(tg0.deliveriesPerSec / first!.summary.bare.deliveriesPerSec)} bare)` : "") : "tickgate not measured";
    res.data.points = byPoint.map((b) => ({ point: b.point, summary: b.summary }));
    res.data.unavailable = unavailable;
    return res;
  },
};
