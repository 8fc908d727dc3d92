/**
 * One measured window of a publishing server and its load client, both
 * already started and following the JSON-lines control protocol
 * (servers: bench/servers/driver.ts; clients: `mark`, `report`, `final`).
 * Samples /proc at the window's edges: each process's CPU, the cores'
 * busy/softirq split, TCP segments and IP bytes sent, and the server's
 * memory. Shared by the fan-out comparison and every scenario that
 * publishes from the server, so all of them measure the same way.
 * @module
 */
import type { Child } from "./child.ts";
import { coreTimes, coreUsage, cpuTicks, ipOutOctets, memoryKiB, tcpOutSegs } from "./proc.ts";
import { NOISY_PCT, type Latency, type RunResult } from "./report.ts";

export interface WindowOptions {
  /** Row label: a peer's name or a variant such as `tickgate+history`. */
  label: string;
  round: number;
  /** Subscribers every publication goes to (for publications/s); 0 when it varies. */
  fanout: number;
  warmup: number;
  seconds: number;
  /** Publications per second; 0 = as fast as the flow-control window allows. */
  rate: number;
  batch: number;
  /** Publications in flight beyond the client's credit; huge for paced runs that use no credit. */
  window: number;
  hz: number;
  /** How long the client may wait for the tail after publishing stops. */
  finalTimeoutMs?: number;
  /** The process running the publish loop when it is not the server (a client publisher); the server's CPU is still measured. */
  publisher?: Child;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * CPU that neither bench process nor the kernel's softirq (mostly loopback
 * TCP, charged to no pid) used during the window, in % of one core: other
 * programs on the machine. Above ~10% the run's figures are suspect.
 */
export function otherCpu(cores: ReturnType<typeof coreUsage>, benchPct: number): number {
  let busy = 0;
  for (const c of cores) busy += c.busyPct - c.softirqPct;
  return Math.max(0, busy - benchPct);
}

/** Starts publishing, measures one window, stops and collects the client's final count. */
export async function measureWindow(server: Child, client: Child, ready: Record<string, unknown>, o: WindowOptions): Promise<RunResult> {
  const loop = o.publisher ?? server;
  await loop.request({ cmd: "start", rate: o.rate, batch: o.batch, window: o.window, maxSeconds: o.warmup + o.seconds + 20 });
  await Bun.sleep(o.warmup * 1000);
  const k0 = coreTimes();
  const g0 = tcpOutSegs();
  const b0 = ipOutOctets();
  const s0 = cpuTicks(server.pid);
  const c0 = cpuTicks(client.pid);
  const q0 = o.publisher ? cpuTicks(o.publisher.pid).total : 0;
  const w0 = performance.now();
  const m0 = await client.request({ cmd: "mark" });
  await Bun.sleep(o.seconds * 1000);
  const k1 = coreTimes();
  const g1 = tcpOutSegs();
  const b1 = ipOutOctets();
  const s1 = cpuTicks(server.pid);
  const c1 = cpuTicks(client.pid);
  const q1 = o.publisher ? cpuTicks(o.publisher.pid).total : 0;
  const w1 = performance.now();
  const m1 = await client.request({ cmd: "report" });
  const p1 = await loop.request({ cmd: "stop" });
  const mem = memoryKiB(server.pid);
  const fin = await client.request({ cmd: "final", published: p1.published, timeoutMs: o.finalTimeoutMs ?? 5000 }, (o.finalTimeoutMs ?? 5000) + 10_000);

  const wall = (w1 - w0) / 1000;
  const clientSecs = ((m1.t as number) - (m0.t as number)) / 1000;
  const deliveries = (m1.deliveries as number) - (m0.deliveries as number);
  const serverCpuS = (s1.total - s0.total) / o.hz;
  // A client publisher is load on the client's core too: counted with the subscribers, never as "other programs".
  const clientCpuS = (c1.total - c0.total + q1 - q0) / o.hz;
  const clientCpuPct = (100 * clientCpuS) / wall;
  const per = (cpuS: number) => (deliveries > 0 ? (cpuS * 1e6) / deliveries : NaN);
  const cores = coreUsage(k0, k1);
  return {
    server: o.label,
    round: o.round,
    seconds: clientSecs,
    deliveries,
    deliveriesPerSec: deliveries / clientSecs,
    publicationsPerSec: o.fanout > 0 ? deliveries / o.fanout / clientSecs : NaN,
    latencyUs: m1.latencyUs as Latency,
    serverCpuPct: (100 * serverCpuS) / wall,
    serverCpuUsPerDelivery: per(serverCpuS),
    // The kernel part is the same work for every server; the user part is where their code differs.
    serverUserUsPerDelivery: per((s1.user - s0.user) / o.hz),
    serverSysUsPerDelivery: per((s1.sys - s0.sys) / o.hz),
    clientCpuPct,
    clientCpuUsPerDelivery: per(clientCpuS),
    clientSaturated: clientCpuPct >= 90,
    tcpSegsPerDelivery: deliveries > 0 ? (g1 - g0) / deliveries : NaN,
    octetsPerDelivery: deliveries > 0 ? (b1 - b0) / deliveries : NaN,
    attempts: 1,
    otherCpuPct: round1(otherCpu(cores, (100 * (serverCpuS + clientCpuS)) / wall)),
    cores: cores.map((u) => ({ busyPct: round1(u.busyPct), softirqPct: round1(u.softirqPct), stealPct: round1(u.stealPct) })),
    published: p1.published as number,
    offeredPerSec: o.rate,
    lost: fin.lost as number,
    dup: fin.dup as number,
    malformed: fin.malformed as number,
    gapFrames: fin.gapFrames as number,
    errorFrames: fin.errorFrames as number,
    closedConns: fin.closedConns as number,
    creditStalls: p1.creditStalls as number,
    connectMs: ready.connectMs as number,
    serverRssKiB: mem.rss,
    serverHwmKiB: mem.hwm,
    ...(fin.slow ? { slow: fin.slow as RunResult["slow"] } : {}),
    ...(typeof fin.unexpected === "number" ? { unexpected: fin.unexpected } : {}),
  };
}

/**
 * Runs `once` up to 1 + `retries` times while other programs disturb it
 * (other CPU above {@link NOISY_PCT}) and keeps the quietest attempt: on a
 * shared 2-core machine a test suite elsewhere moves every figure.
 */
export async function quietest(retries: number, once: () => Promise<RunResult>, onAttempt?: (r: RunResult) => void): Promise<RunResult> {
  let best: RunResult | null = null;
  let attempts = 0;
  for (let attempt = 0; attempt <= retries; attempt++) {
    const r = await once();
    attempts++;
    onAttempt?.(r);
    if (!best || r.otherCpuPct < best.otherCpuPct) best = r;
    if (r.otherCpuPct <= NOISY_PCT) break;
  }
  best!.attempts = attempts;
  return best!;
}
