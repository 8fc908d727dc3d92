/**
 * Results of measured windows (fan-out and every scenario that publishes
 * from the server): per-run figures, medians per server or variant over
 * rounds, the tickgate/bare ratios, and the per-run table.
 * @module
 */
import { NOISY_PCT } from "./points.ts";
import { target } from "./targets.ts";

/** A name from `PEERS` in peers.ts. */
export type ServerKind = string;

export interface Latency {
  samples: number;
  p50: number;
  /** Absent when the load client does not report it. */
  p90?: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  negative: number;
}

export interface RunResult {
  server: ServerKind;
  round: number;
  seconds: number;
  deliveries: number;
  deliveriesPerSec: number;
  publicationsPerSec: number;
  latencyUs: Latency;
  serverCpuPct: number;
  serverCpuUsPerDelivery: number;
  serverUserUsPerDelivery: number;
  serverSysUsPerDelivery: number;
  clientCpuPct: number;
  clientCpuUsPerDelivery: number;
  clientSaturated: boolean;
  /** Machine-wide TCP segments sent per delivery: fewer means more messages per socket write. */
  tcpSegsPerDelivery: number;
  /** Measurements taken for this row; above 1, the others were disturbed by other programs and this is the quietest. */
  attempts: number;
  /** CPU used by other programs during the window, % of one core. */
  otherCpuPct: number;
  /** Whole-machine view per core over the window, softirq included (not charged to any pid). */
  cores: { busyPct: number; softirqPct: number; stealPct: number }[];
  published: number;
  /** Publications/s asked for; 0 = max (flow-controlled). */
  offeredPerSec?: number;
  lost: number;
  dup: number;
  malformed: number;
  gapFrames: number;
  errorFrames: number;
  closedConns: number;
  creditStalls: number;
  connectMs: number;
  /** IP bytes sent machine-wide per delivery (frames, headers, ACKs). */
  octetsPerDelivery?: number;
  /** Server memory when publishing stopped, and its peak since start (KiB). */
  serverRssKiB?: number;
  serverHwmKiB?: number;
  /** Publications delivered on a stream a subscription did not ask for (a filter leak); scenario clients only. */
  unexpected?: number;
  /** Subscribers that stopped reading (the `slow` scenario), counted apart. */
  slow?: { conns: number; deliveries: number; lost: number; gapFrames: number; closedConns: number };
  /** What a scenario read after the window (e.g. the server's slow-consumer counters). */
  extra?: Record<string, unknown>;
}

export interface Summary {
  runs: number;
  deliveriesPerSec: number;
  latencyUs: Latency;
  serverCpuPct: number;
  serverCpuUsPerDelivery: number;
  serverUserUsPerDelivery: number;
  serverSysUsPerDelivery: number;
  clientCpuPct: number;
  clientCpuUsPerDelivery: number;
  clientSaturated: boolean;
  tcpSegsPerDelivery: number;
  cores: { busyPct: number; softirqPct: number; stealPct: number }[];
  otherCpuPct: number;
  /** Lowest and highest over the rounds: the spread the median hides. */
  range: { deliveriesPerSec: [number, number]; serverCpuUsPerDelivery: [number, number] };
  lost: number;
  dup: number;
}

/** Other programs' CPU (% of a core) above which a run is marked noisy (defined in points.ts, which runs without targets.json). */
export { NOISY_PCT };

/** The two fan-out targets against the bare loop, from bench/targets.json. */
export const TARGETS = {
  cpuPerDeliveryMax: target("fanout.cpu_per_delivery_vs_bare").max!,
  deliveriesPerSecMin: target("fanout.deliveries_vs_bare").min!,
} as const;

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function span(xs: number[]): [number, number] {
  return [Math.min(...xs), Math.max(...xs)];
}

export function summarize(runs: RunResult[]): Summary {
  const med = (f: (r: RunResult) => number) => median(runs.map(f));
  return {
    runs: runs.length,
    deliveriesPerSec: med((r) => r.deliveriesPerSec),
    latencyUs: {
      samples: med((r) => r.latencyUs.samples),
      p50: med((r) => r.latencyUs.p50),
      ...(runs.every((r) => r.latencyUs.p90 !== undefined) ? { p90: med((r) => r.latencyUs.p90!) } : {}),
      p99: med((r) => r.latencyUs.p99),
      p999: med((r) => r.latencyUs.p999),
      max: med((r) => r.latencyUs.max),
      mean: med((r) => r.latencyUs.mean),
      negative: med((r) => r.latencyUs.negative),
    },
    serverCpuPct: med((r) => r.serverCpuPct),
    serverCpuUsPerDelivery: med((r) => r.serverCpuUsPerDelivery),
    serverUserUsPerDelivery: med((r) => r.serverUserUsPerDelivery),
    serverSysUsPerDelivery: med((r) => r.serverSysUsPerDelivery),
    clientCpuPct: med((r) => r.clientCpuPct),
    clientCpuUsPerDelivery: med((r) => r.clientCpuUsPerDelivery),
    clientSaturated: runs.some((r) => r.clientSaturated),
    otherCpuPct: med((r) => r.otherCpuPct),
    tcpSegsPerDelivery: med((r) => r.tcpSegsPerDelivery),
    range: { deliveriesPerSec: span(runs.map((r) => r.deliveriesPerSec)), serverCpuUsPerDelivery: span(runs.map((r) => r.serverCpuUsPerDelivery)) },
    cores: (runs[0]?.cores ?? []).map((_, i) => ({
      busyPct: med((r) => r.cores[i]?.busyPct ?? NaN),
      softirqPct: med((r) => r.cores[i]?.softirqPct ?? NaN),
      stealPct: med((r) => r.cores[i]?.stealPct ?? NaN),
    })),
    // Losses are summed, not medianed: one lost message in any run matters.
    lost: runs.reduce((a, r) => a + r.lost, 0),
    dup: runs.reduce((a, r) => a + r.dup, 0),
  };
}

export interface Ratios {
  cpuPerDelivery: number;
  /** User-space part only: where the two servers' own code differs. Not a target. */
  userCpuPerDelivery: number;
  deliveriesPerSec: number;
  cpuPerDeliveryMet: boolean;
  deliveriesPerSecMet: boolean;
}

export function ratios(tickgate: Summary, bare: Summary): Ratios {
  const cpu = tickgate.serverCpuUsPerDelivery / bare.serverCpuUsPerDelivery;
  const dps = tickgate.deliveriesPerSec / bare.deliveriesPerSec;
  const user = tickgate.serverUserUsPerDelivery / bare.serverUserUsPerDelivery;
  return { cpuPerDelivery: cpu, userCpuPerDelivery: user, deliveriesPerSec: dps, cpuPerDeliveryMet: cpu <= TARGETS.cpuPerDeliveryMax, deliveriesPerSecMet: dps >= TARGETS.deliveriesPerSecMin };
}

const core = (c: { busyPct: number; softirqPct: number } | undefined) => (c ? `${c.busyPct.toFixed(0)}%/${c.softirqPct.toFixed(0)}%` : "-");

const COLS = ["server", "round", "deliv/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "srv µs/deliv", "(user+sys)", "srv CPU", "cli CPU", "cli µs/deliv", "segs/deliv", "core0 busy/sirq", "core1 busy/sirq", "other", "lost", "dup", "note"];

function row(server: string, round: string, r: { deliveriesPerSec: number; latencyUs: Latency; serverCpuUsPerDelivery: number; serverUserUsPerDelivery: number; serverSysUsPerDelivery: number; serverCpuPct: number; clientCpuPct: number; clientCpuUsPerDelivery: number; lost: number; dup: number; clientSaturated: boolean; tcpSegsPerDelivery: number; cores: { busyPct: number; softirqPct: number }[]; otherCpuPct: number }): string[] {
  return [
    server,
    round,
    Math.round(r.deliveriesPerSec).toLocaleString("en-US"),
    String(r.latencyUs.p50),
    r.latencyUs.p90 === undefined ? "-" : String(r.latencyUs.p90),
    String(r.latencyUs.p99),
    String(r.latencyUs.p999),
    String(r.latencyUs.max),
    r.serverCpuUsPerDelivery.toFixed(3),
    `${r.serverUserUsPerDelivery.toFixed(3)}+${r.serverSysUsPerDelivery.toFixed(3)}`,
    `${r.serverCpuPct.toFixed(0)}%`,
    `${r.clientCpuPct.toFixed(0)}%`,
    r.clientCpuUsPerDelivery.toFixed(3),
    r.tcpSegsPerDelivery.toFixed(3),
    core(r.cores[0]),
    core(r.cores[1]),
    `${r.otherCpuPct.toFixed(0)}%`,
    String(r.lost),
    String(r.dup),
    [r.clientSaturated ? "client saturated" : "", r.otherCpuPct > NOISY_PCT ? "noisy" : ""].filter(Boolean).join(", "),
  ];
}

export function table(runs: RunResult[], summaries: Partial<Record<ServerKind, Summary>>): string {
  const rows = runs.map((r) => row(r.server, String(r.round + 1), r));
  for (const [k, s] of Object.entries(summaries)) if (s) rows.push(row(k, "median", s));
  const widths = COLS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [fmt(COLS), fmt(widths.map((w) => "-".repeat(w))), ...rows.map(fmt)].join("\n");
}

/** One line per server: the spread over rounds, so a reader can tell signal from noise. */
export function rangeLines(summaries: Partial<Record<ServerKind, Summary>>): string {
  return Object.entries(summaries)
    .filter((e): e is [string, Summary] => e[1] !== undefined)
    .map(([k, s]) => {
      const d = s.range.deliveriesPerSec.map((x) => Math.round(x).toLocaleString("en-US")).join(" … ");
      const c = s.range.serverCpuUsPerDelivery.map((x) => x.toFixed(3)).join(" … ");
      return `${k.padEnd(8)} over ${s.runs} round(s): deliveries/s ${d}; server µs/delivery ${c}`;
    })
    .join("\n");
}

export function ratioLines(r: Ratios): string {
  const mark = (ok: boolean) => (ok ? "met" : "NOT met");
  return [
    `server CPU per delivery, tickgate / bare: ${r.cpuPerDelivery.toFixed(3)}× (target ≤ ${TARGETS.cpuPerDeliveryMax}×: ${mark(r.cpuPerDeliveryMet)})`,
    `deliveries/s, tickgate / bare:            ${r.deliveriesPerSec.toFixed(3)}× (target ≥ ${TARGETS.deliveriesPerSecMin}×: ${mark(r.deliveriesPerSecMet)})`,
    `  (user-space part of server CPU per delivery, tickgate / bare: ${r.userCpuPerDelivery.toFixed(3)}×; no target)`,
  ].join("\n");
}
