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

/** utime + stime of every thread of `pid`, in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
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

export function machine(): { cpus: number; model: string; kernel: string; bun: string } {
  let model = "";
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "latin1"))?.[1] ?? "";
  } catch {
    model = "unknown";
  }
  return { cpus: navigator.hardwareConcurrency, model, kernel: sh("uname -r").out, bun: Bun.version };
}
