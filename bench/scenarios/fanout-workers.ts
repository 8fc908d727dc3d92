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
  deliveriesPerSec: number;
  cpuUsPerDelivery: number;
  natsUsPerDelivery: number;
  cpuPct: number;
  p50Ms: number;
  p99Ms: number;
}

async function measure(workers: number, f: { subs: number; rate: number; seconds: number; warmup: number }, ctx: ScenarioContext): Promise<Run> {
  const args = [process.execPath, CLI, "serve", "--port", "0", "--no-demo", "--log-level", "info", ...(workers > 1 ? ["--workers", String(workers)] : [])];
  const server = new Child(`tickgate (${workers} worker${workers > 1 ? "s" : ""})`, args);
  try {
    const nats = workers > 1 ? ((await server.next((o) => o.event === "local_nats", 30_000)).pid as number) : undefined;
    const line = await server.next((o) => o.event === "listening" && (workers === 1 || typeof o.workers === "number"), 120_000);
    const port = Number(new URL(line.url as string).port);
    const pids = workers > 1 ? ((await (await fetch(`${line.admin}/health`)).json()) as { workers: { pid: number }[] }).workers.map((w) => w.pid) : [server.pid];
    const load = new Child(`load (${workers})`, [process.execPath, LOAD, "--nodes", String(port), "--subs", String(f.subs), "--rate", String(f.rate), "--seconds", String(f.seconds), "--warmup", String(f.warmup), "--topic", `bench.fw.${Date.now()}`]);
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
      const d = done.deliveries as number;
      const node = (done.perNode as { p50Ms: number; p99Ms: number }[])[0]!;
      return { workers, deliveriesPerSec: d / f.seconds, cpuUsPerDelivery: (sec * 1e6) / d, natsUsPerDelivery: (natsSec * 1e6) / d, cpuPct: (100 * sec) / wall, p50Ms: node.p50Ms, p99Ms: node.p99Ms };
    } finally {
      await load.stop();
    }
  } finally {
    // SIGTERM first: the supervisor stops its workers and its nats-server.
    process.kill(server.pid, "SIGTERM");
    await server.next((o) => o.event === "stopped" || o.event === "shutdown", 30_000).catch(() => undefined);
    await server.stop(10_000);
  }
}

export const fanoutWorkersScenario: Scenario = {
  name: "fanout-workers",
  describe: "subscribers on one port served by 1 process vs 2 workers (local nats-server): deliveries/s and CPU per delivery in the same run",
  flags: steadyLoadFlags({ quick: "200", help: "subscribers on the shared port (the kernel spreads them over the workers)" }),

  async run(ctx) {
    const res = emptyResult();
    const fl = ctx.flags;
    const f = steadyLoad(fl);
    ctx.progress.begin("fanout-workers", 2);
    ctx.progress.step("one process");
    const one = await measure(1, f, ctx);
    ctx.progress.step("two workers + local nats-server");
    const two = await measure(2, f, ctx);
    const table: Table = {
      title: `fanout-workers: ${fmt.int(f.subs)} subscribers × ${fmt.int(f.rate)} publications/s (JSON), ${f.seconds} s window`,
      columns: ["server", "deliveries/s", "tickgate CPU", "tickgate µs/delivery", "NATS µs/delivery", "p50 ms", "p99 ms"],
      rows: [one, two].map((r) => [r.workers === 1 ? "1 process" : `${r.workers} workers`, fmt.int(r.deliveriesPerSec), fmt.pct(r.cpuPct), fmt.f(r.cpuUsPerDelivery), r.workers > 1 ? fmt.f(r.natsUsPerDelivery) : "", fmt.f(r.p50Ms, 3), fmt.f(r.p99Ms, 3)]),
      notes: [
        "tickgate CPU: all worker processes, % of one core. The publisher is on one worker; the others receive through NATS.",
        "Unpinned: the workers, nats-server and the load client share the machine's cores. Compare rows of one run.",
      ],
    };
    res.tables.push(table);
    res.headline = `${fmt.int(two.deliveriesPerSec)} deliveries/s on 2 workers at ${fmt.f(two.cpuUsPerDelivery)} µs/delivery vs ${fmt.int(one.deliveriesPerSec)} at ${fmt.f(one.cpuUsPerDelivery)} µs on one process`;
    res.metrics.push({ id: "fanout_workers.cpu_us_per_delivery_2", value: two.cpuUsPerDelivery, better: "lower", describe: "tickgate CPU per delivery over 2 workers" });
    res.data = { one, two };
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
