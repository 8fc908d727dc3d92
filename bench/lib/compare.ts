/**
 * Comparing results against a baseline: `--compare BASELINE.json` after a
 * run, and `bun run bench compare BASELINE.json CURRENT.json` on two saved
 * files. Every metric is lined up with the same metric of the baseline and
 * judged only when both were measured at the same point (quick or full, same
 * workload flags) and neither window was noisy; it is flagged when it got
 * worse than the tolerance in its own direction (a ratio that should be
 * high fell, one that should be low rose). The exit codes of both live here.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { pointOf } from "./points.ts";
import type { Metric, Table } from "./scenario.ts";

/** Exit codes of `bun run bench`, `bun run bench compare` and `tickgate bench`. */
export const BenchExit = {
  /** Ran; every comparable metric judged and none got worse (or nothing to compare against). */
  OK: 0,
  /** A scenario failed, or the server could not be reached. */
  FAILED: 1,
  /** Bad flags, or a baseline that is missing, not JSON or not a results file: nothing ran. */
  USAGE: 2,
  /** A metric got worse than the tolerance. */
  REGRESSION: 3,
  /** No regression, but some metric could not be judged (a noisy window), or none could (other points). */
  NOT_JUDGED: 4,
} as const;

export const EXIT_CODES_TEXT = `Exit codes:
  0  ok: ran, and no metric got worse than the tolerance
  1  a scenario failed, or the server could not be reached
  2  bad usage, or the baseline is missing, not JSON or not a results file (nothing ran)
  3  regression: a metric got worse than the tolerance
  4  not judged: no regression, but a noisy window kept a metric out of the verdict,
     or no metric was measured at the same point in both (e.g. --quick against a full run)`;

/** What a results file must hold to be compared: the fields the comparison reads. */
export interface SuiteMetrics {
  quick?: boolean;
  scenarios: { scenario?: string; config?: Record<string, string>; metrics: Metric[] }[];
}

/** A baseline that cannot be used; its message is one line. */
export class BaselineError extends Error {
  override name = "BaselineError";
}

/** Why `x` is not a results file, or null. Checks only what the comparison reads. */
function shapeError(x: unknown): string | null {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return "not a results object";
  const o = x as Record<string, unknown>;
  if (o.quick !== undefined && typeof o.quick !== "boolean") return "'quick' is not true or false";
  if (!Array.isArray(o.scenarios)) return "no 'scenarios' list";
  for (const [i, s] of (o.scenarios as unknown[]).entries()) {
    if (typeof s !== "object" || s === null) return `scenarios[${i}] is not an object`;
    const sc = s as Record<string, unknown>;
    if (!Array.isArray(sc.metrics)) return `scenarios[${i}] has no 'metrics' list`;
    for (const [j, m] of (sc.metrics as unknown[]).entries()) {
      const mm = m as Record<string, unknown> | null;
      const at = `scenarios[${i}].metrics[${j}]`;
      if (typeof mm !== "object" || mm === null) return `${at} is not an object`;
      if (typeof mm.id !== "string" || mm.id === "") return `${at} has no 'id'`;
      // NaN is written as null in JSON: a metric that could not be measured.
      if (mm.value !== null && typeof mm.value !== "number") return `${at} ('${mm.id}') has no numeric 'value'`;
      if (mm.better !== "higher" && mm.better !== "lower") return `${at} ('${mm.id}') has 'better' other than higher or lower`;
    }
  }
  return null;
}

/** Reads and checks a results.json; throws a one-line {@link BaselineError} naming the file. */
export function loadResults(path: string): SuiteMetrics {
  if (!existsSync(path)) throw new BaselineError(`${path}: no such file`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new BaselineError(`${path}: not JSON (${(e as Error).message.split("\n")[0]})`);
  }
  const why = shapeError(parsed);
  if (why) throw new BaselineError(`${path}: not a bench results file (${why})`);
  return parsed as SuiteMetrics;
}

export type CompareStatus = "ok" | "worse" | "noisy" | "other point" | "new" | "not measured now" | "not measured";

export interface CompareRow {
  id: string;
  describe: string;
  /** The point both were measured at; on `other point`, this run's. */
  point: string;
  baseline: number | null;
  current: number | null;
  /** current ÷ baseline − 1. */
  change: number | null;
  /** True when it got worse by more than the tolerance (and was judged). */
  regressed: boolean;
  status: CompareStatus;
  /** Why it was not judged, in a few words. */
  why?: string;
}

interface Pointed {
  m: Metric;
  point: string;
}

function index(s: SuiteMetrics): Map<string, Pointed> {
  const out = new Map<string, Pointed>();
  for (const sc of s.scenarios) {
    for (const m of sc.metrics) {
      const point = m.point ?? pointOf(sc.scenario ?? m.id.split(".")[0]!, sc.config ?? {}, s.quick === true);
      out.set(m.id, { m, point });
    }
  }
  return out;
}

/** `quick fanout --a 1 --b 2` against `full fanout --a 1 --b 3` → `quick vs full; --b 2 vs 3`. */
function pointDiff(a: string, b: string): string {
  const parts = (p: string) => {
    const [mode, , ...rest] = p.split(" ");
    const flags = new Map<string, string>();
    for (const m of rest.join(" ").matchAll(/--(\S+) (\S*)/g)) flags.set(m[1]!, m[2]!);
    return { mode, flags };
  };
  const x = parts(a);
  const y = parts(b);
  const out: string[] = [];
  if (x.mode !== y.mode) out.push(`${x.mode} vs ${y.mode}`);
  for (const k of new Set([...x.flags.keys(), ...y.flags.keys()])) if (x.flags.get(k) !== y.flags.get(k)) out.push(`--${k} ${x.flags.get(k) ?? "-"} vs ${y.flags.get(k) ?? "-"}`);
  return out.join("; ") || "different point";
}

export function compareMetrics(current: SuiteMetrics, baseline: SuiteMetrics, tolerance: number): CompareRow[] {
  const cur = index(current);
  const base = index(baseline);
  const ids = [...new Set([...base.keys(), ...cur.keys()])];
  return ids.map((id): CompareRow => {
    const c = cur.get(id);
    const b = base.get(id);
    const describe = (c ?? b)!.m.describe;
    const row = { id, describe, point: (c ?? b)!.point, baseline: b?.m.value ?? null, current: c?.m.value ?? null, change: null, regressed: false };
    if (!b) return { ...row, status: "new" };
    if (!c) return { ...row, status: "not measured now" };
    if (c.point !== b.point) return { ...row, status: "other point", why: pointDiff(c.point, b.point) };
    if (!Number.isFinite(c.m.value) || !Number.isFinite(b.m.value) || b.m.value === 0) return { ...row, status: "not measured", why: "no value on one side" };
    const change = c.m.value / b.m.value - 1;
    if (c.m.noisy || b.m.noisy) return { ...row, change, status: "noisy", why: `${[c.m.noisy ? "this run" : "", b.m.noisy ? "baseline" : ""].filter(Boolean).join(" and ")} noisy` };
    const worse = c.m.better === "higher" ? -change : change;
    const regressed = worse > tolerance;
    return { ...row, change, regressed, status: regressed ? "worse" : "ok" };
  });
}

export interface CompareVerdict {
  exitCode: number;
  regressions: number;
  judged: number;
  noisy: number;
  otherPoint: number;
  /** One line for the console. */
  line: string;
}

/** The verdict of a comparison and its exit code ({@link BenchExit}). */
export function verdictOf(rows: CompareRow[]): CompareVerdict {
  const count = (s: CompareStatus) => rows.filter((r) => r.status === s).length;
  const regressions = count("worse");
  const judged = regressions + count("ok");
  const noisy = count("noisy");
  const otherPoint = count("other point");
  const also = [noisy ? `${noisy} left out as noisy` : "", otherPoint ? `${otherPoint} measured at another point` : ""].filter(Boolean).join(", ");
  const tail = also ? ` (${also})` : "";
  if (regressions > 0) return { exitCode: BenchExit.REGRESSION, regressions, judged, noisy, otherPoint, line: `${regressions} of ${judged} judged metric(s) got worse than the tolerance${tail}.` };
  if (noisy > 0 || judged === 0) {
    const why = judged === 0 ? `no metric could be judged${tail || " (none in common)"}` : `no judged metric got worse, but ${noisy} could not be judged (noisy windows: re-run)`;
    return { exitCode: BenchExit.NOT_JUDGED, regressions, judged, noisy, otherPoint, line: `${why}.` };
  }
  return { exitCode: BenchExit.OK, regressions, judged, noisy, otherPoint, line: `no metric got worse than the tolerance (${judged} judged${also ? `; ${also}` : ""}).` };
}

const num = (x: number | null) => (x === null ? "-" : Math.abs(x) >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(3));

export function compareTable(rows: CompareRow[], tolerance: number, baselinePath: string): Table {
  const modes = new Set(rows.map((r) => r.point.split(" ")[0]));
  return {
    title: `against ${baselinePath} (tolerance ${(tolerance * 100).toFixed(0)}%)`,
    columns: ["metric", "point", "baseline", "now", "change", "verdict"],
    rows: rows.map((r) => [
      r.id,
      r.point.split(" ")[0]!,
      num(r.baseline),
      num(r.current),
      r.change === null ? "-" : `${r.change >= 0 ? "+" : ""}${(r.change * 100).toFixed(1)}%`,
      r.status === "worse" ? "WORSE" : r.why ? `${r.status}: ${r.why}` : r.status,
    ]),
    notes: [
      "point: quick or full run; a metric is judged only against the same point (same mode and workload flags) and never when either window was noisy.",
      ...(modes.size > 1 ? ["this comparison mixes quick and full points: those metrics are not compared."] : []),
    ],
  };
}
