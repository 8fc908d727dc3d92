/**
 * Process-level measurement and placement: CPU time from /proc/<pid>/stat,
 * core pinning with taskset, and the open-files limit a run needs.
 * @module
 */
import { readFileSync } from "node:fs";

function sh(cmd: string): { ok: boolean; out: string } {
  const r = Bun.spawnSync(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  return { ok: r.exitCode === 0, out: r.stdout.toString().trim() };
}

/** Clock ticks per second that /proc/<pid>/stat counts in. */
export function clockTicks(): number {
  const n = Number(sh("getconf CLK_TCK").out);
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/** utime and stime of every thread of `pid`, in clock ticks. */
export function cpuTicks(pid: number): { user: number; sys: number; total: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const user = Number(f[11]);
  const sys = Number(f[12]);
  return { user, sys, total: user + sys };
}

export interface Placement {
  server: string[];
  client: string[];
  pinned: boolean;
  note: string;
}

/** Server on core 0, client on core 1, when taskset exists and core 1 is usable. */
export function placement(): Placement {
  if (!Bun.which("taskset")) return { server: [], client: [], pinned: false, note: "taskset not found: server and client run unpinned" };
  if (!sh("taskset -c 1 true").ok || !sh("taskset -c 0 true").ok) {
    return { server: [], client: [], pinned: false, note: "cores 0 and 1 are not both usable: server and client run unpinned" };
  }
  return { server: ["taskset", "-c", "0"], client: ["taskset", "-c", "1"], pinned: true, note: "server pinned to core 0, load client to core 1 (taskset)" };
}

/**
 * A prefix that raises the open-files limit to `need` for a child, or none
 * when the current soft limit is enough. `exec` keeps the child's pid, so
 * /proc/<pid>/stat still measures the right process.
 */
export function fdLimitPrefix(need: number): { prefix: string[]; note: string } {
  const soft = Number(sh("ulimit -n").out);
  if (sh("ulimit -n").out === "unlimited" || soft >= need) return { prefix: [], note: `open-files limit ${sh("ulimit -n").out} ≥ ${need} needed` };
  const hard = sh("ulimit -Hn").out;
  if (hard !== "unlimited" && Number(hard) < need) throw new Error(`need ${need} open files but the hard limit is ${hard}; lower --subs or raise it`);
  return { prefix: ["sh", "-c", `ulimit -n ${need} && exec "$@"`, "sh"], note: `open-files limit raised from ${soft} to ${need} for the children` };
}

/** The open-files hard limit: what a child can be raised to without CAP_SYS_RESOURCE. */
export function fdHardLimit(): number {
  const hard = sh("ulimit -Hn").out;
  return hard === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(hard);
}

export interface Machine {
  cpus: number;
  model: string;
  kernel: string;
  bun: string;
  /** `node --version` of the Node on PATH (autocannon and Node peers run on it), or null. */
  node: string | null;
  memTotalGiB: number;
  fdHardLimit: number;
  date: string;
}

export function machine(): Machine {
  let model = "";
  let memKiB = NaN;
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "latin1"))?.[1] ?? "";
    memKiB = Number(/MemTotal:\s*(\d+)/.exec(readFileSync("/proc/meminfo", "latin1"))?.[1]);
  } catch {
    model ||= "unknown";
  }
  const node = Bun.which("node") ? sh("node --version").out || null : null;
  return {
    cpus: navigator.hardwareConcurrency,
    model,
    kernel: sh("uname -r").out,
    bun: Bun.version,
    node,
    memTotalGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    fdHardLimit: fdHardLimit(),
    date: new Date().toISOString(),
  };
}

/**
 * Resident memory of `pid` from /proc/<pid>/status, in KiB: now (VmRSS) and
 * the peak since the process started (VmHWM). RSS counts what the process
 * touched, heap and native buffers alike, not the kernel's socket buffers.
 */
export function memoryKiB(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "latin1");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/**
 * IP bytes sent machine-wide (/proc/net/netstat IpExt OutOctets). On a quiet
 * loopback this is the benchmark's own traffic, so octets per delivery show
 * what compression and encodings put on the wire.
 */
export function ipOutOctets(): number {
  const lines = readFileSync("/proc/net/netstat", "latin1").split("\n").filter((l) => l.startsWith("IpExt:"));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf("OutOctets");
  return i > 0 ? Number(values[i]) : NaN;
}

/** Per-core jiffies from /proc/stat: busy (user+nice+system+irq+softirq), softirq, steal, total. */
export interface CoreTimes {
  busy: number;
  softirq: number;
  steal: number;
  total: number;
}

export function coreTimes(): CoreTimes[] {
  const out: CoreTimes[] = [];
  for (const line of readFileSync("/proc/stat", "latin1").split("\n")) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2]!.trim().split(/\s+/).map(Number) as number[];
    out[Number(m[1])] = {
      busy: user! + nice! + system! + irq! + softirq!,
      softirq: softirq!,
      steal: steal!,
      total: user! + nice! + system! + idle! + iowait! + irq! + softirq! + steal!,
    };
  }
  return out;
}

/** Busy, softirq and steal share of each core between two samples, in percent. */
export function coreUsage(a: CoreTimes[], b: CoreTimes[]): { busyPct: number; softirqPct: number; stealPct: number }[] {
  return b.map((t, i) => {
    const s = a[i]!;
    const total = t.total - s.total || 1;
    return { busyPct: (100 * (t.busy - s.busy)) / total, softirqPct: (100 * (t.softirq - s.softirq)) / total, stealPct: (100 * (t.steal - s.steal)) / total };
  });
}

/**
 * TCP segments sent machine-wide (/proc/net/snmp OutSegs). Socket writes do
 * not show in /proc/<pid>/io, but on loopback every write is at least one
 * segment, so segments per delivery tell how many messages each write
 * carried — the main thing that moves CPU per delivery.
 */
export function tcpOutSegs(): number {
  const lines = readFileSync("/proc/net/snmp", "latin1").split("\n").filter((l) => l.startsWith("Tcp:"));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf("OutSegs");
  return i > 0 ? Number(values[i]) : NaN;
}

/**
 * TCP sockets in TIME_WAIT machine-wide (/proc/net/sockstat). Each holds its
 * ephemeral port for 60 s after a close, so a ramp right after a big run
 * searches a fuller port range and connects far slower.
 */
export function tcpTimeWait(): number {
  const m = /^TCP:.*\btw (\d+)/m.exec(readFileSync("/proc/net/sockstat", "latin1"));
  return m ? Number(m[1]) : 0;
}
