/**
 * `connections`: ramp to as many concurrent idle connections as the
 * machine holds (target 50,000), then hold them. Reports the connect rate
 * and server memory per connection: RSS after a full GC with everyone
 * connected, minus RSS after a full GC before anyone was, over the count.
 * Bounded three ways: the target, the first wall of errors, a time limit;
 * and capped up front by the open-files hard limit, since the server holds
 * one descriptor per connection and cannot raise that limit itself.
 * @module
 */
import { readFileSync } from "node:fs";
import { Child } from "../lib/child.ts";
import { cpuTicks, fdHardLimit, fdLimitPrefix, memoryKiB, tcpTimeWait } from "../lib/proc.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { check } from "../lib/targets.ts";
import { benchRoute } from "../lib/tickgate-run.ts";

const SERVER = `${import.meta.dir}/../servers/tickgate.ts`;
const CONNECTOR = `${import.meta.dir}/clients/connector.ts`;
/** TIME_WAIT sockets a ramp can live with: a few percent of one source's ports. */
const TIME_WAIT_OK = 2000;
/** Descriptors a process needs besides its connections (listeners, pipes, Bun's own). */
const FD_RESERVE = 256;

/** Ephemeral ports one source address can use toward one server port. */
function ephemeralPorts(): number {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "latin1").trim().split(/\s+/).map(Number);
    return hi! - lo! + 1;
  } catch {
    return 28_000;
  }
}

async function gcRss(port: number, pid: number): Promise<number> {
  await benchRoute(port, "POST", "/bench/gc");
  await Bun.sleep(300);
  await benchRoute(port, "POST", "/bench/gc");
  await Bun.sleep(200);
  return memoryKiB(pid).rss;
}

export const connectionsScenario: Scenario = {
  name: "connections",
  describe: "ramp to as many idle connections as the machine holds (target 50k); connect rate and server memory per connection",
  flags: [
    { name: "target", def: "50000", quick: "1000", help: "connections to open and hold" },
    { name: "concurrency", def: "256", quick: "64", help: "connects in flight at once" },
    { name: "sources", def: "auto", help: "source addresses 127.0.0.1…127.0.0.N (auto: each uses at most ~20% of the ephemeral port range)" },
    { name: "max-seconds", def: "120", quick: "15", help: "time limit of the ramp" },
    { name: "hold", def: "5", quick: "0.5", help: "seconds to hold them before counting again" },
    { name: "settle", def: "65", quick: "0", help: "seconds to wait at most for TIME_WAIT sockets of earlier runs to clear (they hold ports for 60 s)" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const wanted = f.int("target", 1, 1_000_000);
    const hard = fdHardLimit();
    // One descriptor per connection on each side: past the hard limit the ramp would only measure EMFILE.
    const target = Math.min(wanted, hard - FD_RESERVE);
    if (target < wanted) res.notes.push(`capped at ${fmt.int(target)} connections: the open-files hard limit is ${fmt.int(hard)} per process and this environment cannot raise it (no CAP_SYS_RESOURCE); the server holds one descriptor per connection.`);
    const ports = ephemeralPorts();
    const sourcesRaw = f.str("sources");
    // The kernel's search for a free ephemeral port toward one destination lengthens as a source's
    // range fills (19,000 from one source: ~900 connects/s; from four: ~4,600/s). Keep each under ~20%.
    const sources = sourcesRaw === "auto" ? Math.min(250, Math.max(1, Math.ceil(target / Math.floor(ports * 0.2)))) : f.int("sources", 1, 250);
    const concurrency = f.int("concurrency", 1, 10_000);
    const maxSeconds = f.num("max-seconds", 1, 3600);
    const hold = f.num("hold", 0, 600);
    const settle = f.num("settle", 0, 120);
    const fd = fdLimitPrefix(target + FD_RESERVE).prefix;
    ctx.progress.begin("connections", 4);

    // Ports of connections closed in the last 60 s (earlier scenarios' subscribers) are still taken:
    // wait for them, so the ramp measures this server and not the previous run's leftovers.
    const tw0 = tcpTimeWait();
    const twUntil = performance.now() + settle * 1000;
    ctx.progress.step(`waiting for ${fmt.int(tw0)} TIME_WAIT sockets to clear`);
    while (tcpTimeWait() > TIME_WAIT_OK && performance.now() < twUntil) {
      ctx.progress.update(`waiting for ${fmt.int(tcpTimeWait())} TIME_WAIT sockets to clear (at most ${settle} s)`);
      await Bun.sleep(1000);
    }
    const tw = tcpTimeWait();
    ctx.progress.step("starting the server");
    const server = new Child("tickgate server (connections)", [...fd, ...ctx.env.place.server, process.execPath, SERVER, "--max-conns", String(target + 1000)]);
    try {
      const info = await server.next((o) => o.ready === true, 20_000);
      const port = info.port as number;
      const rss0 = await gcRss(port, server.pid);
      const client = new Child("connector", [...fd, ...ctx.env.place.client, process.execPath, CONNECTOR, "--port", String(port), "--target", String(target), "--concurrency", String(concurrency), "--sources", String(sources), "--max-seconds", String(maxSeconds)]);
      try {
        ctx.progress.step(`ramping to ${fmt.int(target)} connections (${concurrency} in flight, ${sources} source address(es))`);
        let ramp: Record<string, unknown>;
        // CPU of both sides over the ramp: which one sets the connect rate.
        const cpu0 = [cpuTicks(server.pid).total, cpuTicks(client.pid).total];
        const tRamp = performance.now();
        for (;;) {
          const o = await client.next((x) => x.progress === true || x.ramped === true, (maxSeconds + 60) * 1000);
          if (o.ramped) {
            ramp = o;
            break;
          }
          ctx.progress.update(`ramping: ${fmt.int(o.open as number)} open, ${fmt.int(o.failed as number)} failed, ${((o.ms as number) / 1000).toFixed(1)} s`);
        }
        const rampWall = (performance.now() - tRamp) / 1000;
        const [srvCpu, cliCpu] = [cpuTicks(server.pid).total - cpu0[0]!, cpuTicks(client.pid).total - cpu0[1]!].map((t) => (100 * t) / ctx.env.hz / rampWall) as [number, number];
        const open = ramp.open as number;
        ctx.progress.step(`holding ${fmt.int(open)} connections for ${hold} s`);
        const rss1 = await gcRss(port, server.pid);
        const serverSees = (await benchRoute(port, "GET", "/bench/counters")).connections as number;
        const clientRss = memoryKiB(client.pid).rss;
        await Bun.sleep(hold * 1000);
        const after = await client.request({ cmd: "count" });
        const serverAfter = (await benchRoute(port, "GET", "/bench/counters")).connections as number;
        const held = Math.min(after.open as number, serverAfter);
        const perConn = open > 0 ? (rss1 - rss0) / open : NaN;
        ctx.progress.log(`  ${fmt.int(open)} open in ${((ramp.ms as number) / 1000).toFixed(1)} s (${fmt.int(ramp.perSec as number)}/s), stopped by ${ramp.stoppedBy}; server RSS +${fmt.kib(rss1 - rss0)} = ${fmt.f(perConn, 2)} KiB per connection; ${fmt.int(held)} held after ${hold} s`);
        const errs = Object.entries(ramp.errors as Record<string, number>).map(([k, v]) => `${k} × ${v}`).join(", ");
        res.tables.push({
          title: `connections: target ${fmt.int(wanted)}${target < wanted ? ` (capped at ${fmt.int(target)})` : ""}, ${concurrency} connects in flight, ${sources} source address(es)`,
          columns: ["opened", "failed", "stopped by", "ramp s", "connects/s", "srv CPU", "cli CPU", "held", "server sees", "srv RSS before", "srv RSS after", "KiB/conn", "client RSS"],
          rows: [[
            fmt.int(open), fmt.int(ramp.failed as number), String(ramp.stoppedBy), fmt.f((ramp.ms as number) / 1000, 1), fmt.int(ramp.perSec as number),
            fmt.pct(srvCpu), fmt.pct(cliCpu), fmt.int(held), fmt.int(serverSees), fmt.kib(rss0), fmt.kib(rss1), fmt.f(perConn, 2), fmt.kib(clientRss),
          ]],
          notes: [
            "KiB/conn: (server RSS after a full GC with every connection open − RSS after a full GC before the first) ÷ connections; idle connections, no subscriptions.",
            `TIME_WAIT sockets when the ramp started: ${fmt.int(tw)}${tw0 > tw ? ` (${fmt.int(tw0)} before waiting)` : ""}; ports they hold slow every connect.`,
            ...(errs ? [`errors while ramping: ${errs}`] : []),
          ],
        });
        res.targets.push(check("connections.memory_per_idle_connection", perConn));
        res.targets.push(check("connections.held", held, target < wanted ? `capped at ${fmt.int(target)} by the open-files hard limit (${fmt.int(hard)})` : ramp.stoppedBy !== "target" ? `the ramp stopped: ${ramp.stoppedBy}` : undefined));
        res.metrics.push({ id: "connections.kib_per_connection", value: perConn, better: "lower", describe: "server RSS per idle connection, KiB" });
        res.metrics.push({ id: "connections.connects_per_sec", value: ramp.perSec as number, better: "higher", describe: "connections opened per second during the ramp" });
        res.headline = `${fmt.int(held)} held (${ramp.stoppedBy}${target < wanted ? ", fd-capped" : ""}), ${fmt.int(ramp.perSec as number)} connects/s, ${fmt.f(perConn, 2)} KiB per connection`;
        res.data = { wanted, target, hard, sources, timeWait: tw, ramp, serverCpuPct: srvCpu, clientCpuPct: cliCpu, held, serverSees, serverAfter, rss0, rss1, perConnKiB: perConn, clientRss };
      } finally {
        await client.stop(5000);
      }
    } finally {
      await server.stop(5000);
    }
    return res;
  },
};
