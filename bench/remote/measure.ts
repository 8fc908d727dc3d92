/**
 * One measured window of the remote load against a running server, and
 * its row in the report. From the client side: publications sent/s,
 * deliveries/s, latency percentiles, losses, error frames, the client's own
 * CPU. From the server's /metrics when it can be read: its CPU per delivery
 * and per publication, and its resident memory; otherwise those cells are
 * `-` and the table says why.
 * @module
 */
import { fmt } from "../lib/scenario.ts";
import type { Table } from "../lib/scenario.ts";
import { sleep, type RemoteLoad } from "./load.ts";
import type { MetricsSource } from "./server-metrics.ts";

export interface RemoteRun {
  label: string;
  seconds: number;
  /** Publications sent and deliveries received inside the window (counts; the rates below divide them by `seconds`). */
  sent: number;
  deliveries: number;
  sentPerSec: number;
  deliveriesPerSec: number;
  latencyUs: ReturnType<RemoteLoad["latency"]>;
  /** NaN when /metrics could not be read. */
  serverCpuPct: number;
  serverCpuUsPerDelivery: number;
  serverCpuUsPerPublication: number;
  serverRssMiB: number;
  clientCpuPct: number;
  clientSaturated: boolean;
  lost: number;
  dup: number;
  stray: number;
  malformed: number;
  errorFrames: number;
  closed: number;
  connectMs: number;
  failures: string[];
}

export interface WindowSpec {
  label: string;
  /** Publications/s in all; 0 = as fast as the subscribers keep up. */
  rate: number;
  window: number;
  warmup: number;
  seconds: number;
}

/** Publishes, measures one window, stops, and waits for the tail. Counters are the window's own. */
export async function measureRemote(load: RemoteLoad, metrics: MetricsSource, w: WindowSpec): Promise<RemoteRun> {
  const before = load.counts();
  load.start(w.rate, w.window, w.warmup + w.seconds + 30);
  await sleep(w.warmup * 1000);
  const s0 = await metrics.sample();
  const c0 = process.cpuUsage();
  const m0 = load.mark();
  const t0 = performance.now();
  await sleep(w.seconds * 1000);
  const m1 = load.counts();
  const wall = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const latencyUs = load.latency();
  const s1 = await metrics.sample();
  load.stop();
  const fin = await load.final(5000);
  const secs = (m1.t - m0.t) / 1000;
  const deliveries = m1.deliveries - m0.deliveries;
  const published = m1.published - m0.published;
  const srvCpu = s0 && s1 ? s1.cpuSeconds - s0.cpuSeconds : NaN;
  const clientCpuPct = (100 * (c1.user + c1.system)) / 1e6 / wall;
  return {
    label: w.label,
    seconds: secs,
    sent: published,
    deliveries,
    sentPerSec: published / secs,
    deliveriesPerSec: deliveries / secs,
    latencyUs,
    serverCpuPct: (100 * srvCpu) / wall,
    serverCpuUsPerDelivery: deliveries > 0 ? (srvCpu * 1e6) / deliveries : NaN,
    serverCpuUsPerPublication: published > 0 ? (srvCpu * 1e6) / published : NaN,
    serverRssMiB: s1 ? s1.rssBytes / 2 ** 20 : NaN,
    clientCpuPct,
    clientSaturated: clientCpuPct >= 90,
    lost: fin.lost - before.lost,
    dup: fin.dup - before.dup,
    stray: fin.stray - before.stray,
    malformed: fin.malformed - before.malformed,
    errorFrames: fin.errorFrames - before.errorFrames,
    closed: fin.closed - before.closed,
    connectMs: load.connectMs,
    failures: fin.failures,
  };
}

/** What no remote run can report, for every remote table. */
export const REMOTE_UNAVAILABLE = "unavailable remotely: other programs' CPU on the server (the suite's `other` column, so no noisy mark), TCP segments per delivery and the per-core split; latency is publish → receive on this machine's clock, network included.";

export function serverNote(metrics: MetricsSource): string {
  return metrics.unavailable ? `srv columns '-': server figures unavailable (${metrics.unavailable}).` : `srv columns: from ${metrics.url} (process_cpu_seconds_total and process_resident_memory_bytes, summed over workers).`;
}

export function remoteTable(title: string, runs: RemoteRun[], metrics: MetricsSource, notes: string[] = []): Table {
  return {
    title,
    columns: ["rate", "pub/s", "deliv/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "srv µs/deliv", "srv µs/pub", "srv CPU", "srv RSS MiB", "cli CPU", "lost", "dup", "stray", "errors", "connect ms", "note"],
    rows: runs.map((r) => [
      r.label, fmt.int(r.sentPerSec), fmt.int(r.deliveriesPerSec),
      fmt.us(r.latencyUs.p50), fmt.us(r.latencyUs.p90), fmt.us(r.latencyUs.p99), fmt.us(r.latencyUs.p999), fmt.us(r.latencyUs.max),
      fmt.f(r.serverCpuUsPerDelivery, 3), fmt.f(r.serverCpuUsPerPublication, 2), fmt.pct(r.serverCpuPct), fmt.f(r.serverRssMiB, 1), fmt.pct(r.clientCpuPct),
      String(r.lost), String(r.dup), String(r.stray), String(r.errorFrames), fmt.int(r.connectMs),
      [r.clientSaturated ? "client saturated" : "", r.closed ? `${r.closed} closed` : ""].filter(Boolean).join(", "),
    ]),
    notes: [
      ...notes,
      serverNote(metrics),
      REMOTE_UNAVAILABLE,
      ...(runs.some((r) => r.errorFrames > 0) ? ["errors: error frames from the server. A publication it refused (e.g. RATE_LIMITED past limits.publishPerSecond) never reaches a subscriber, so it also counts as lost: raise the limit for the bench or lower --rates."] : []),
      ...(runs.some((r) => r.failures.length) ? [`first failures: ${runs.flatMap((r) => r.failures).slice(0, 3).join("; ")}`] : []),
    ],
  };
}
