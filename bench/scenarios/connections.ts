/**
 * `connections`: as many concurrent idle connections as one machine holds
 * (target 100,000), past the per-process open-files limit on both sides:
 * the server is `tickgate serve --workers W` (W worker processes on one
 * port, joined by a local nats-server), the load is L connector processes,
 * each with its own source addresses 127.0.0.x. Every connection subscribes
 * to one topic; after the hold one publication goes out and the connectors
 * count the connections it reached. Reports the connect rate and the
 * server's memory per connection, summed over the workers: RSS with
 * everyone connected minus RSS before anyone was (no forced GC: the CLI has
 * no such route), over the count.
 * Bounded by the target, the first wall of errors and a time limit.
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Child } from "../lib/child.ts";
import { cpuTicks, fdHardLimit, fdLimitPrefix, memoryKiB, tcpTimeWait } from "../lib/proc.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { check } from "../lib/targets.ts";

const CLI = `${import.meta.dir}/../../src/cli/main.ts`;
const CONNECTOR = `${import.meta.dir}/clients/connector.ts`;
/** TIME_WAIT sockets a ramp can live with: a few percent of one source's ports. */
const TIME_WAIT_OK = 2000;
/** Descriptors a process needs besides its connections (listeners, pipes, NATS, Bun's own). */
const FD_RESERVE = 256;
/** A worker's share is uneven (the kernel hashes each connection to a worker): leave room. */
const WORKER_FILL = 0.75;
const TOPIC = "bench.connections";

/** Ephemeral ports one source address can use toward one server port. */
function ephemeralPorts(): number {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "latin1").trim().split(/\s+/).map(Number);
    return hi! - lo! + 1;
  } catch {
    return 28_000;
  }
}

async function admin(url: string, path: string): Promise<string> {
  const r = await fetch(url + path);
  return r.text();
}

/** Connections the workers hold: the sum of `tickgate_connections` over the merged /metrics. */
async function serverConnections(adminUrl: string): Promise<number> {
  const text = await admin(adminUrl, "/metrics");
  return [...text.matchAll(/^tickgate_connections\{worker="\d+"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

async function workerPids(adminUrl: string): Promise<number[]> {
  const h = JSON.parse(await admin(adminUrl, "/health")) as { workers: { pid: number | null }[] };
  return h.workers.map((w) => w.pid).filter((p): p is number => p !== null);
}

const sumRss = (pids: number[]) => pids.reduce((n, p) => n + memoryKiB(p).rss, 0);
const sumCpu = (pids: number[]) => pids.reduce((n, p) => n + cpuTicks(p).total, 0);

export const connectionsScenario: Scenario = {
  name: "connections",
  describe: "hold as many subscribed idle connections as the machine can (target 100k) over worker processes and several load processes; one broadcast reaches them; connect rate and server memory per connection",
  flags: [
    { name: "target", def: "100000", quick: "1000", help: "connections to open and hold" },
    { name: "workers", def: "auto", help: "server worker processes (auto: enough that each stays under ~75% of the open-files limit; at least 2)" },
    { name: "loaders", def: "auto", help: "connector processes (auto: enough that each stays under the open-files limit)" },
    { name: "concurrency", def: "512", quick: "64", help: "connects in flight at once, over all connectors" },
    { name: "sources", def: "auto", help: "source addresses 127.0.0.1…127.0.0.N over all connectors (auto: each uses at most ~20% of the ephemeral port range)" },
    { name: "max-seconds", def: "240", quick: "30", help: "time limit of the ramp" },
    { name: "hold", def: "5", quick: "0.5", help: "seconds to hold them before counting again" },
    { name: "settle", def: "65", quick: "0", help: "seconds to wait at most for TIME_WAIT sockets of earlier runs to clear (they hold ports for 60 s)" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const target = f.int("target", 1, 1_000_000);
    const perProcess = fdHardLimit() - FD_RESERVE;
    const workers = f.str("workers") === "auto" ? Math.max(2, Math.ceil(target / (perProcess * WORKER_FILL))) : f.int("workers", 2, 64);
    const loaders = f.str("loaders") === "auto" ? Math.max(1, Math.ceil(target / perProcess)) : f.int("loaders", 1, 64);
    const ports = ephemeralPorts();
    // The kernel's search for a free ephemeral port lengthens as a source's range fills: keep each under ~20%.
    const sourcesRaw = f.str("sources");
    const wantSources = sourcesRaw === "auto" ? Math.ceil(target / Math.floor(ports * 0.2)) : f.int("sources", 1, 250);
    const perLoader = Math.max(1, Math.min(Math.floor(250 / loaders), Math.ceil(wantSources / loaders)));
    const concurrency = f.int("concurrency", 1, 100_000);
    const maxSeconds = f.num("max-seconds", 1, 3600);
    const hold = f.num("hold", 0, 600);
    const settle = f.num("settle", 0, 120);
    const share = (i: number, n: number, total: number) => Math.floor(total / n) + (i < total % n ? 1 : 0);
    const fd = fdLimitPrefix(Math.min(perProcess + FD_RESERVE, Math.ceil(target / loaders) + FD_RESERVE)).prefix;
    const serverFd = fdLimitPrefix(perProcess + FD_RESERVE).prefix;
    ctx.progress.begin("connections", 5);

    const tw0 = tcpTimeWait();
    const twUntil = performance.now() + settle * 1000;
    ctx.progress.step(`waiting for ${fmt.int(tw0)} TIME_WAIT sockets to clear`);
    while (tcpTimeWait() > TIME_WAIT_OK && performance.now() < twUntil) {
      ctx.progress.update(`waiting for ${fmt.int(tcpTimeWait())} TIME_WAIT sockets to clear (at most ${settle} s)`);
      await Bun.sleep(1000);
    }
    const tw = tcpTimeWait();

    ctx.progress.step(`starting tickgate serve --workers ${workers}`);
    const dir = mkdtempSync(join(tmpdir(), "tickgate-bench-conns-"));
    const config = join(dir, "config.json");
    // One client address holds thousands of connections here; the per-address default (10,000) is for the internet.
    writeFileSync(config, JSON.stringify({ limits: { maxConnections: target + 1000, maxConnectionsPerIp: target + 1000 } }));
    const server = new Child(`tickgate serve --workers ${workers}`, [...serverFd, process.execPath, CLI, "serve", "--workers", String(workers), "--port", "0", "--no-demo", "--log-level", "info", "--config", config]);
    try {
      const up = await server.next((o) => o.event === "listening" && typeof o.workers === "number", 120_000);
      const port = Number(new URL(up.url as string).port);
      const adminUrl = up.admin as string;
      const pids = await workerPids(adminUrl);
      const rss0 = sumRss(pids);
      const loads: Child[] = [];
      try {
        ctx.progress.step(`ramping to ${fmt.int(target)} connections: ${loaders} connectors, ${perLoader} source address(es) each, ${concurrency} in flight`);
        const cpu0 = [sumCpu(pids), 0];
        const tRamp = performance.now();
        for (let i = 0; i < loaders; i++) {
          loads.push(new Child(`connector ${i}`, [...fd, process.execPath, CONNECTOR, "--port", String(port), "--target", String(share(i, loaders, target)), "--concurrency", String(Math.max(1, share(i, loaders, concurrency))), "--sources", String(perLoader), "--source-base", String(i * perLoader), "--topic", TOPIC, "--max-seconds", String(maxSeconds)]));
        }
        const cliPids = loads.map((l) => l.pid);
        const ramps = await Promise.all(loads.map((l) => l.next((x) => x.ramped === true, (maxSeconds + 60) * 1000)));
        const rampWall = (performance.now() - tRamp) / 1000;
        const srvCpu = (100 * (sumCpu(pids) - cpu0[0]!)) / ctx.env.hz / rampWall;
        const cliCpu = (100 * sumCpu(cliPids)) / ctx.env.hz / rampWall;
        const open = ramps.reduce((n, r) => n + (r.open as number), 0);
        const failed = ramps.reduce((n, r) => n + (r.failed as number), 0);
        const rampMs = Math.max(...ramps.map((r) => r.ms as number));
        const perSec = open / (rampMs / 1000);
        const stoppedBy = [...new Set(ramps.map((r) => String(r.stoppedBy)))].join("/");
        const errors = new Map<string, number>();
        for (const r of ramps) for (const [k, v] of Object.entries(r.errors as Record<string, number>)) errors.set(k, (errors.get(k) ?? 0) + v);

        ctx.progress.step(`holding ${fmt.int(open)} connections for ${hold} s`);
        const rss1 = sumRss(pids);
        const serverSees = await serverConnections(adminUrl);
        const perWorker = (await admin(adminUrl, "/metrics")).match(/^tickgate_connections\{worker="\d+"\} \d+/gm)?.map((l) => Number(l.split(" ")[1])) ?? [];
        const clientRss = cliPids.reduce((n, p) => n + memoryKiB(p).rss, 0);
        await Bun.sleep(hold * 1000);
        const counts = await Promise.all(loads.map((l) => l.request({ cmd: "count" })));
        const held = Math.min(counts.reduce((n, c) => n + (c.open as number), 0), await serverConnections(adminUrl));

        ctx.progress.step("one publication to every connection");
        const tPub = performance.now();
        const pub = await fetch(`http://127.0.0.1:${port}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: TOPIC, data: "broadcast" }) });
        if (!pub.ok) throw new Error(`publish: ${pub.status} ${await pub.text()}`);
        let reached = 0;
        let reachMs = NaN;
        const until = performance.now() + 120_000;
        while (performance.now() < until) {
          const c = await Promise.all(loads.map((l) => l.request({ cmd: "count" })));
          reached = c.reduce((n, x) => n + (x.gotMsg as number), 0);
          ctx.progress.update(`${fmt.int(reached)} of ${fmt.int(held)} reached`);
          if (reached >= held) {
            reachMs = performance.now() - tPub;
            break;
          }
          await Bun.sleep(250);
        }
        const perConn = open > 0 ? (rss1 - rss0) / open : NaN;
        ctx.progress.log(`  ${fmt.int(open)} open in ${(rampMs / 1000).toFixed(1)} s (${fmt.int(perSec)}/s), stopped by ${stoppedBy}; ${workers} workers' RSS +${fmt.kib(rss1 - rss0)} = ${fmt.f(perConn, 2)} KiB per connection; ${fmt.int(held)} held after ${hold} s; broadcast reached ${fmt.int(reached)}`);
        const errs = [...errors].map(([k, v]) => `${k} × ${v}`).join(", ");
        res.tables.push({
          title: `connections: target ${fmt.int(target)}, ${workers} workers, ${loaders} connectors × ${perLoader} source address(es), ${concurrency} connects in flight`,
          columns: ["opened", "failed", "stopped by", "ramp s", "connects/s", "srv CPU", "cli CPU", "held", "server sees", "per worker", "srv RSS before", "srv RSS after", "KiB/conn", "client RSS", "broadcast reached", "reach ms"],
          rows: [[
            fmt.int(open), fmt.int(failed), stoppedBy, fmt.f(rampMs / 1000, 1), fmt.int(perSec), fmt.pct(srvCpu), fmt.pct(cliCpu), fmt.int(held), fmt.int(serverSees),
            perWorker.map((n) => fmt.int(n)).join(" / "), fmt.kib(rss0), fmt.kib(rss1), fmt.f(perConn, 2), fmt.kib(clientRss), fmt.int(reached), fmt.int(reachMs),
          ]],
          notes: [
            "Each connection: upgrade, welcome, one subscription (one topic for all), then idle. KiB/conn: (sum of the workers' RSS with every connection open − before the first) ÷ connections, no forced GC.",
            "srv CPU / cli CPU: all workers / all connectors over the ramp, in % of one core (2 cores shared by both sides).",
            `broadcast reached: connections that received the one publication (POST /api/publish), counted by the connectors; reach ms: until the last count.`,
            `TIME_WAIT sockets when the ramp started: ${fmt.int(tw)}${tw0 > tw ? ` (${fmt.int(tw0)} before waiting)` : ""}.`,
            ...(errs ? [`errors while ramping: ${errs}`] : []),
          ],
        });
        res.targets.push(check("connections.memory_per_idle_connection", perConn));
        res.targets.push(check("connections.held", held, stoppedBy !== "target" ? `the ramp stopped: ${stoppedBy}` : undefined));
        res.metrics.push({ id: "connections.kib_per_connection", value: perConn, better: "lower", describe: "server RSS per idle subscribed connection, KiB, summed over workers" });
        res.metrics.push({ id: "connections.connects_per_sec", value: perSec, better: "higher", describe: "connections opened per second during the ramp" });
        res.metrics.push({ id: "connections.broadcast_reached", value: reached, better: "higher", describe: "connections one publication reached" });
        res.headline = `${fmt.int(held)} held over ${workers} workers (${stoppedBy}), ${fmt.int(perSec)} connects/s, ${fmt.f(perConn, 2)} KiB per connection, broadcast reached ${fmt.int(reached)}`;
        // `ramp` sums the connectors' ramps (the shape one connector reported before there were several).
        const ramp = { open, failed, stoppedBy, ms: rampMs, perSec, errors: Object.fromEntries(errors) };
        res.data = { target, workers, loaders, sourcesPerLoader: perLoader, timeWait: tw, ramp, ramps, serverCpuPct: srvCpu, clientCpuPct: cliCpu, held, serverSees, perWorker, rss0, rss1, perConnKiB: perConn, clientRss, reached, reachMs };
      } finally {
        await Promise.all(loads.map((l) => l.stop(5000)));
      }
      // SIGTERM: the supervisor stops its workers and its nats-server before it exits.
      process.kill(server.pid, "SIGTERM");
      await server.next((o) => o.event === "stopped", 60_000).catch(() => undefined);
    } finally {
      await server.stop(5000);
      rmSync(dir, { recursive: true, force: true });
    }
    return res;
  },
};
