/**
 * `cluster`: two tickgate nodes sharing a topic over nats-server (JetStream),
 * subscribers spread over both, the publisher on the first; against one
 * node (LocalBus) with the same subscribers and rate in the same run.
 * Reports deliveries/s, CPU per delivery (the tickgate nodes, and NATS
 * separately) and publish-to-delivery latency per node, so the latency the
 * second node adds is read directly. Every process runs unpinned: three
 * servers and the load client share the machine's cores.
 *
 * Also runs on its own: `bun bench/scenarios/cluster.ts [--quick]`.
 * @module
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Child } from "../lib/child.ts";
import { clockTicks, cpuTicks, placement } from "../lib/proc.ts";
import { Progress } from "../lib/progress.ts";
import { steadyLoad, steadyLoadFlags } from "../lib/steady-load.ts";
import { Flags, emptyResult, fmt, type Scenario, type ScenarioContext, type Table } from "../lib/scenario.ts";

const ROOT = join(import.meta.dir, "..", "..");
const CLI = join(ROOT, "src", "cli", "main.ts");
const LOAD = join(import.meta.dir, "clients", "cluster-load.ts");
const NATS_SERVER = process.env.NATS_SERVER ?? (existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server");

interface NodeFigures {
  port: number;
  deliveries: number;
  p50Ms: number;
  p99Ms: number;
}

interface Run {
  mode: "one node" | "two nodes + NATS";
  deliveriesPerSec: number;
  nodeCpuUsPerDelivery: number;
  natsCpuUsPerDelivery: number;
  perNode: NodeFigures[];
}

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** nats-server with JetStream on a free loopback port and a temp store; resolves once ready. */
async function startNats(dir: string): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc = Bun.spawn([NATS_SERVER, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], { stdout: "ignore", stderr: "pipe" });
  const dec = new TextDecoder();
  let log = "";
  const reader = proc.stderr.getReader();
  const deadline = Date.now() + 10_000;
  while (!log.includes("Server is ready")) {
    if (Date.now() > deadline) {
      proc.kill();
      throw new Error(`nats-server not ready within 10 s:\n${log.slice(-2000)}`);
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`nats-server exited:\n${log.slice(-2000)}`);
    log += dec.decode(value);
  }
  // Keep reading so the server never blocks on a full pipe.
  void (async () => {
    for (;;) if ((await reader.read()).done) break;
  })();
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: proc.pid,
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

async function startNode(label: string, nats?: string): Promise<{ child: Child; port: number }> {
  const args = [process.execPath, CLI, "serve", "--port", "0", "--no-demo", "--log-level", "info", ...(nats ? ["--nats", nats] : [])];
  const child = new Child(label, args);
  const line = await child.next((o) => o.event === "listening", 20_000);
  return { child, port: Number(new URL(line.url as string).port) };
}

/** Subscribers per node that time every delivery, in their own process; the rest only count. */
const PROBES_PER_NODE = 8;

async function measure(mode: Run["mode"], f: { subs: number; rate: number; seconds: number; warmup: number }, ctx: ScenarioContext, nats?: { url: string; pid: number }): Promise<Run> {
  const nodes = [await startNode(`tickgate (${mode}) A`, nats?.url)];
  try {
    if (nats) nodes.push(await startNode(`tickgate (${mode}) B`, nats.url));
    const common = ["--nodes", nodes.map((n) => n.port).join(","), "--rate", String(f.rate), "--seconds", String(f.seconds), "--warmup", String(f.warmup), "--topic", `bench.cluster.${Date.now()}`];
    // Both setups get the same subscriber count; `probes` of them in the timing process.
    const probes = Math.min(f.subs, PROBES_PER_NODE * 2);
    const bulk = f.subs > probes ? new Child(`bulk (${mode})`, [process.execPath, LOAD, ...common, "--role", "bulk", "--subs", String(f.subs - probes)]) : null;
    try {
      if (bulk) await bulk.next((o) => o.ready === true, 120_000);
      const run = await timed(mode, f, ctx, nodes, [process.execPath, LOAD, ...common, "--role", "probe", "--subs", String(probes)], bulk, nats);
      return run;
    } finally {
      await bulk?.stop();
    }
  } finally {
    for (const n of nodes) await n.child.stop();
  }
}

async function timed(mode: Run["mode"], f: { seconds: number }, ctx: ScenarioContext, nodes: { child: Child }[], argv: string[], bulk: Child | null, nats?: { pid: number }): Promise<Run> {
  {
    const load = new Child(`load (${mode})`, argv);
    try {
      await load.next((o) => o.ready === true, 120_000);
      await load.next((o) => o.window === "start", 60_000);
      const cpu0 = nodes.map((n) => cpuTicks(n.child.pid).total);
      const nats0 = nats ? cpuTicks(nats.pid).total : 0;
      await load.next((o) => o.window === "end", 60_000 + f.seconds * 1000);
      const cpu1 = nodes.map((n) => cpuTicks(n.child.pid).total);
      const nats1 = nats ? cpuTicks(nats.pid).total : 0;
      const done = await load.next((o) => o.done === true, 30_000);
      // The bulk counts publications made in the window; one that it is still draining is counted once it arrives.
      const bulkCount = bulk ? ((await bulk.request({ cmd: "count" }, 60_000)).deliveries as number) : 0;
      const deliveries = (done.deliveries as number) + bulkCount;
      const hz = ctx.env.hz;
      const nodeSec = cpu1.reduce((a, c, i) => a + c - cpu0[i]!, 0) / hz;
      return {
        mode,
        deliveriesPerSec: deliveries / f.seconds,
        nodeCpuUsPerDelivery: (nodeSec * 1e6) / deliveries,
        natsCpuUsPerDelivery: (((nats1 - nats0) / hz) * 1e6) / deliveries,
        perNode: done.perNode as NodeFigures[],
      };
    } finally {
      await load.stop();
    }
  }
}

export const clusterScenario: Scenario = {
  name: "cluster",
  describe: "2 tickgate nodes + nats-server, subscribers on both, publisher on one; against one node in the same run",
  flags: steadyLoadFlags({ quick: "100", help: "subscribers, spread evenly over the nodes" }),

  async run(ctx) {
    const res = emptyResult();
    const fl = ctx.flags;
    const f = steadyLoad(fl);
    ctx.progress.begin("cluster", 2);
    ctx.progress.step("one node (LocalBus)");
    const one = await measure("one node", f, ctx);
    ctx.progress.step("two nodes + nats-server (NatsBus)");
    const dir = mkdtempSync(join(tmpdir(), "tickgate-bench-nats-"));
    let two: Run;
    const nats = await startNats(dir);
    try {
      two = await measure("two nodes + NATS", f, ctx, nats);
    } finally {
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    const table: Table = {
      title: `cluster: ${fmt.int(f.subs)} subscribers × ${fmt.int(f.rate)} publications/s (JSON), ${f.seconds} s window`,
      columns: ["setup", "node", "deliveries/s", "tickgate CPU µs/delivery", "NATS CPU µs/delivery", "p50 ms", "p99 ms"],
      rows: [],
      notes: [`Latency: publish on node A (WebSocket) → delivery, timed on every delivery to ${PROBES_PER_NODE} probe subscribers per node in their own process; the other subscribers are counted, not parsed, by another process.`, "All processes unpinned on a shared machine: compare rows of one run, not across machines."],
    };
    for (const r of [one, two]) {
      r.perNode.forEach((n, i) => {
        table.rows.push([i === 0 ? r.mode : "", i === 0 ? "A (publisher's)" : "B", fmt.int(i === 0 ? r.deliveriesPerSec : NaN), i === 0 ? fmt.f(r.nodeCpuUsPerDelivery) : "", i === 0 && r.mode !== "one node" ? fmt.f(r.natsCpuUsPerDelivery) : "", fmt.f(n.p50Ms, 3), fmt.f(n.p99Ms, 3)]);
      });
    }
    const b = two.perNode[1];
    const a1 = one.perNode[0]!;
    const addedP50 = b ? b.p50Ms - a1.p50Ms : NaN;
    const addedP99 = b ? b.p99Ms - a1.p99Ms : NaN;
    table.notes!.push(`Added by the second node (B vs one node): p50 ${fmt.f(addedP50, 3)} ms, p99 ${fmt.f(addedP99, 3)} ms (target for p99: ≤ 1 ms at 1k subscribers × 100/s).`);
    res.tables.push(table);
    res.headline = `second node adds p50 ${fmt.f(addedP50, 3)} ms, p99 ${fmt.f(addedP99, 3)} ms; ${fmt.int(two.deliveriesPerSec)} deliveries/s over 2 nodes vs ${fmt.int(one.deliveriesPerSec)} on one`;
    res.metrics.push(
      { id: "cluster.added_p50_ms", value: addedP50, better: "lower", describe: "publish→delivery p50 on the second node minus one node's" },
      { id: "cluster.added_p99_ms", value: addedP99, better: "lower", describe: "publish→delivery p99 on the second node minus one node's" },
      { id: "cluster.node_cpu_us_per_delivery", value: two.nodeCpuUsPerDelivery, better: "lower", describe: "tickgate CPU per delivery, both nodes" },
    );
    res.data = { one, two, addedP50, addedP99 };
    return res;
  },
};

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const given = new Map<string, string>();
  for (const s of clusterScenario.flags) {
    const i = process.argv.indexOf(`--${s.name}`);
    if (i >= 0) given.set(s.name, process.argv[i + 1]!);
  }
  const ctx: ScenarioContext = {
    flags: new Flags("cluster", clusterScenario.flags, given, quick),
    quick,
    env: { place: placement(), hz: clockTicks() },
    progress: new Progress(),
  };
  const r = await clusterScenario.run(ctx);
  for (const t of r.tables) {
    console.log(`\n${t.title}\n${t.columns.join(" | ")}`);
    for (const row of t.rows) console.log(row.join(" | "));
    for (const n of t.notes ?? []) console.log(`  ${n}`);
  }
  console.log(`\n${r.headline}`);
  process.exit(0);
}
