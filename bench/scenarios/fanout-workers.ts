/**
 * `fanout-workers`: the same subscribers and publication rate against
 * `tickgate serve` (one process) and `tickgate serve --workers 2` (two
 * workers on one port, a local nats-server between them) in one run. The
 * subscribers connect to the one port and the kernel spreads them over the
 * workers. Reports deliveries/s, tickgate CPU per delivery summed over the
 * workers (and NATS's separately) and publish-to-delivery latency. On a
 * 2-core machine the load client shares the cores, so the question it
 * answers is whether the cost per delivery grows with workers, not how far
 * two cores go. Uses the `cluster` scenario's load client.
 *
 * Also runs on its own: `bun bench/scenarios/fanout-workers.ts [--quick]`.
 * @module
 */
import { join } from "node:path";
import { Child } from "../lib/child.ts";
import { clockTicks, cpuTicks, placement } from "../lib/proc.ts";
import { Progress } from "../lib/progress.ts";
import { steadyLoad, steadyLoadFlags } from "../lib/steady-load.ts";
import { Flags, emptyResult, fmt, type Scenario, type ScenarioContext, type Table } from "../lib/scenario.ts";

const ROOT = join(import.meta.dir, "..", "..");
const CLI = join(ROOT, "src", "cli", "main.ts");
const LOAD = join(import.meta.dir, "clients", "cluster-load.ts");

interface Run {
  workers: number;
  subs: number;
  deliveriesPerSec: number;
  /** tickgate CPU over the window, all workers, seconds. */
  cpuSec: number;
  natsSec: number;
  deliveries: number;
  publications: number;
  cpuUsPerDelivery: number;
  natsUsPerDelivery: number;
  cpuPct: number;
  p50Ms: number;
  p99Ms: number;
}

/** The cost split of one set-up, from two runs that differ only in subscribers. */
interface Split {
  /** Marginal CPU per delivery: what one more subscriber costs per publication. */
  perDeliveryUs: number;
  /** The rest, per publication: decode, sequencing and, with workers, the bus. */
  perPublicationUs: number;
}

/** Subscribers that time every delivery, in their own process; the rest only count (so latency is not the client's backlog). */
const PROBES = 16;

async function measure(workers: number, f: { subs: number; rate: number; seconds: number; warmup: number }, ctx: ScenarioContext): Promise<Run> {
  const args = [process.execPath, CLI, "serve", "--port", "0", "--no-demo", "--log-level", "info", ...(workers > 1 ? ["--workers", String(workers)] : [])];
  const server = new Child(`tickgate (${workers} worker${workers > 1 ? "s" : ""})`, args);
  try {
    const nats = workers > 1 ? ((await server.next((o) => o.event === "local_nats", 30_000)).pid as number) : undefined;
    const line = await server.next((o) => o.event === "listening" && (workers === 1 || typeof o.workers === "number"), 120_000);
    const port = Number(new URL(line.url as string).port);
    const pids = workers > 1 ? ((await (await fetch(`${line.admin}/health`)).json()) as { workers: { pid: number }[] }).workers.map((w) => w.pid) : [server.pid];
    const common = ["--nodes", String(port), "--rate", String(f.rate), "--seconds", String(f.seconds), "--warmup", String(f.warmup), "--topic", `bench.fw.${Date.now()}`];
    const probes = Math.min(f.subs, PROBES);
    const bulk = f.subs > probes ? new Child(`bulk (${workers})`, [process.execPath, LOAD, ...common, "--role", "bulk", "--subs", String(f.subs - probes)]) : null;
    try {
      if (bulk) await bulk.next((o) => o.ready === true, 120_000);
      const load = new Child(`load (${workers})`, [process.execPath, LOAD, ...common, "--role", "probe", "--subs", String(probes)]);
      try {
        await load.next((o) => o.ready === true, 120_000);
        await load.next((o) => o.window === "start", 60_000);
        const cpu = () => pids.reduce((n, p) => n + cpuTicks(p).total, 0);
        const c0 = cpu();
        const n0 = nats ? cpuTicks(nats).total : 0;
        const t0 = performance.now();
        await load.next((o) => o.window === "end", 60_000 + f.seconds * 1000);
        const wall = (performance.now() - t0) / 1000;
        const sec = (cpu() - c0) / ctx.env.hz;
        const natsSec = nats ? (cpuTicks(nats).total - n0) / ctx.env.hz : 0;
        const done = await load.next((o) => o.done === true, 30_000);
        const bulkCount = bulk ? ((await bulk.request({ cmd: "count" }, 60_000)).deliveries as number) : 0;
        const d = (done.deliveries as number) + bulkCount;
        const node = (done.perNode as { p50Ms: number; p99Ms: number }[])[0]!;
        return {
          workers,
          subs: f.subs,
          deliveriesPerSec: d / f.seconds,
          cpuSec: sec,
          natsSec,
          deliveries: d,
          publications: f.rate * f.seconds,
          cpuUsPerDelivery: (sec * 1e6) / d,
          natsUsPerDelivery: (natsSec * 1e6) / d,
          cpuPct: (100 * sec) / wall,
          p50Ms: node.p50Ms,
          p99Ms: node.p99Ms,
        };
      } finally {
        await load.stop();
      }
    } finally {
      await bulk?.stop();
    }
  } finally {
    // SIGTERM first: the supervisor stops its workers and its nats-server.
    process.kill(server.pid, "SIGTERM");
    await server.next((o) => o.event === "stopped" || o.event === "shutdown", 30_000).catch(() => undefined);
    await server.stop(10_000);
  }
}

/** CPU = perPublication × publications + perDelivery × deliveries, solved from a small and a large run. */
export function split(small: Run, large: Run): Split {
  const perDelivery = (large.cpuSec - small.cpuSec) / (large.deliveries - small.deliveries);
  const perPublication = (small.cpuSec - perDelivery * small.deliveries) / small.publications;
  return { perDeliveryUs: perDelivery * 1e6, perPublicationUs: perPublication * 1e6 };
}

export const fanoutWorkersScenario: Scenario = {
  name: "fanout-workers",
  describe: "subscribers on one port served by 1 process vs 2 workers (local nats-server): deliveries/s and CPU per delivery in the same run",
  flags: [
    ...steadyLoadFlags({ quick: "200", help: "subscribers on the shared port (the kernel spreads them over the workers)" }),
    { name: "small", def: "200", quick: "40", help: "subscribers of the second, smaller run of each set-up, which splits CPU into per-publication and per-delivery cost" },
  ],

  async run(ctx) {
    const res = emptyResult();
    const fl = ctx.flags;
    const f = steadyLoad(fl);
    const small = { ...f, subs: fl.int("small", 2, f.subs - 1) };
    ctx.progress.begin("fanout-workers", 4);
    const runs: Run[] = [];
    for (const [w, load, what] of [[1, f, "one process"], [2, f, "two workers + local nats-server"], [1, small, "one process, fewer subscribers"], [2, small, "two workers, fewer subscribers"]] as const) {
      ctx.progress.step(what);
      runs.push(await measure(w, load, ctx));
    }
    const [one, two, oneSmall, twoSmall] = runs as [Run, Run, Run, Run];
    const s1 = split(oneSmall, one);
    const s2 = split(twoSmall, two);
    const name = (r: Run) => (r.workers === 1 ? "1 process" : `${r.workers} workers`);
    res.tables.push({
      title: `fanout-workers: ${fmt.int(f.rate)} publications/s (JSON) to ${fmt.int(small.subs)} and ${fmt.int(f.subs)} subscribers, ${f.seconds} s window`,
      columns: ["server", "subscribers", "deliveries/s", "tickgate CPU", "tickgate µs/delivery", "NATS µs/delivery", "p50 ms", "p99 ms"],
      rows: runs.map((r) => [name(r), fmt.int(r.subs), fmt.int(r.deliveriesPerSec), fmt.pct(r.cpuPct), fmt.f(r.cpuUsPerDelivery), r.workers > 1 ? fmt.f(r.natsUsPerDelivery) : "", fmt.f(r.p50Ms, 3), fmt.f(r.p99Ms, 3)]),
      notes: [
        "tickgate CPU: all worker processes, % of one core. The publisher is on one worker; the others receive through NATS.",
        `Latency: publish → delivery on ${PROBES} probe subscribers in their own process; the others are counted, not parsed, by another process.`,
        "Unpinned: the workers, nats-server and the load client share the machine's cores. Compare rows of one run.",
      ],
    });
    res.tables.push({
      title: "fanout-workers: where the CPU goes (from the two sizes: CPU = a × publications + b × deliveries)",
      columns: ["server", "b: µs per delivery", "a: µs per publication"],
      rows: [[name(one), fmt.f(s1.perDeliveryUs, 3), fmt.f(s1.perPublicationUs, 1)], [name(two), fmt.f(s2.perDeliveryUs, 3), fmt.f(s2.perPublicationUs, 1)]],
      notes: [
        "b is the fan-out cost, which workers must not raise; a is paid once per publication per set-up (with workers: the bus write, and every worker's receipt).",
      ],
    });
    res.headline = `per delivery ${fmt.f(s2.perDeliveryUs, 3)} µs on 2 workers vs ${fmt.f(s1.perDeliveryUs, 3)} µs on one process; per publication ${fmt.f(s2.perPublicationUs, 0)} vs ${fmt.f(s1.perPublicationUs, 0)} µs`;
    res.metrics.push({ id: "fanout_workers.cpu_us_per_delivery_2", value: two.cpuUsPerDelivery, better: "lower", describe: "tickgate CPU per delivery over 2 workers" });
    res.metrics.push({ id: "fanout_workers.marginal_us_per_delivery_ratio", value: s2.perDeliveryUs / s1.perDeliveryUs, better: "lower", describe: "marginal CPU per delivery, 2 workers ÷ 1 process" });
    res.data = { runs, split: { one: s1, two: s2 } };
    return res;
  },
};

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const given = new Map<string, string>();
  for (const s of fanoutWorkersScenario.flags) {
    const i = process.argv.indexOf(`--${s.name}`);
    if (i >= 0) given.set(s.name, process.argv[i + 1]!);
  }
  const ctx: ScenarioContext = { flags: new Flags("fanout-workers", fanoutWorkersScenario.flags, given, quick), quick, env: { place: placement(), hz: clockTicks() }, progress: new Progress() };
  const r = await fanoutWorkersScenario.run(ctx);
  for (const t of r.tables) {
    console.log(`\n${t.title}\n${t.columns.join(" | ")}`);
    for (const row of t.rows) console.log(row.join(" | "));
    for (const n of t.notes ?? []) console.log(`  ${n}`);
  }
  console.log(`\n${r.headline}`);
  process.exit(0);
}
