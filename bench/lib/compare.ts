/**
 * `--compare baseline.json`: every metric of this run against the same
 * metric in a baseline results.json, flagged when it got worse by more than
 * the tolerance (in the metric's own direction: a ratio that should be high
 * fell, one that should be low rose). Metrics present on one side only are
 * listed, not flagged.
 * @module
 */
import type { Metric, Table } from "./scenario.ts";

export interface SuiteMetrics {
  scenarios: { metrics: Metric[] }[];
}

export interface CompareRow {
  id: string;
  describe: string;
  baseline: number | null;
  current: number | null;
  /** current ÷ baseline − 1. */
  change: number | null;
  /** True when it got worse by more than the tolerance. */
  regressed: boolean;
}

export function compareMetrics(current: SuiteMetrics, baseline: SuiteMetrics, tolerance: number): CompareRow[] {
  const index = (s: SuiteMetrics) => new Map(s.scenarios.flatMap((x) => x.metrics).map((m) => [m.id, m]));
  const cur = index(current);
  const base = index(baseline);
  const ids = [...new Set([...base.keys(), ...cur.keys()])];
  return ids.map((id) => {
    const c = cur.get(id);
    const b = base.get(id);
    const describe = (c ?? b)!.describe;
    if (!c || !b || !Number.isFinite(c.value) || !Number.isFinite(b.value) || b.value === 0) {
      return { id, describe, baseline: b?.value ?? null, current: c?.value ?? null, change: null, regressed: false };
    }
    const change = c.value / b.value - 1;
    const worse = c.better === "higher" ? -change : change;
    return { id, describe, baseline: b.value, current: c.value, change, regressed: worse > tolerance };
  });
}

export function compareTable(rows: CompareRow[], tolerance: number, baselinePath: string): Table {
  const num = (x: number | null) => (x === null ? "-" : Math.abs(x) >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(3));
  return {
    title: `against ${baselinePath} (tolerance ${(tolerance * 100).toFixed(0)}%)`,
    columns: ["metric", "baseline", "now", "change", "verdict"],
    rows: rows.map((r) => [
      r.id,
      num(r.baseline),
      num(r.current),
      r.change === null ? "-" : `${r.change >= 0 ? "+" : ""}${(r.change * 100).toFixed(1)}%`,
      r.change === null ? (r.current === null ? "not measured now" : "new") : r.regressed ? "WORSE" : "ok",
    ]),
  };
}
