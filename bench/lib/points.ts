/**
 * What the runner adds to every scenario's result, so no scenario has to:
 * the point each metric was measured at (quick or full, the scenario, the
 * flags that shape its workload), whether the windows behind it were noisy,
 * and a `noisy` mark on every table row whose `other` column is above
 * {@link NOISY_PCT}. `--compare` and `bench compare` read the first two.
 * @module
 */
import type { Metric, ScenarioResult, Table } from "./scenario.ts";

/** Other programs' CPU (% of a core) above which a window is noisy. */
export const NOISY_PCT = 10;

/**
 * Flags that change how long or how carefully a point is measured, not the
 * point itself: runs that differ only in these are compared.
 */
const PROCEDURE_FLAGS = new Set(["rounds", "retries", "variant-rounds", "settle", "max-seconds"]);

/** `quick` or `full`, then the scenario and its workload flags, e.g. `full fanout --points 1000:max --payload 100`. */
export function pointOf(scenario: string, config: Record<string, string>, quick: boolean): string {
  const flags = Object.entries(config)
    .filter(([k]) => !PROCEDURE_FLAGS.has(k))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `--${k} ${v}`);
  return [quick ? "quick" : "full", scenario, ...flags].join(" ");
}

/** `12%` or `12.5` → 12.5; anything else NaN. */
const percent = (cell: string | undefined) => (cell === undefined ? NaN : Number.parseFloat(cell.replace("%", "")));

/** Rows of a table whose `other` column says other programs took more than {@link NOISY_PCT} of a core. */
export function noisyRows(t: Table): number[] {
  const col = t.columns.indexOf("other");
  if (col < 0) return [];
  return t.rows.flatMap((r, i) => (percent(r[col]) > NOISY_PCT ? [i] : []));
}

/** Adds `noisy` to the note of every noisy row (a `note` column is added when the table has none). */
export function markNoisy(t: Table): void {
  const rows = noisyRows(t);
  if (rows.length === 0) return;
  let note = t.columns.indexOf("note");
  if (note < 0) {
    t.columns.push("note");
    note = t.columns.length - 1;
    for (const r of t.rows) while (r.length < t.columns.length) r.push("");
  }
  for (const i of rows) {
    const r = t.rows[i]!;
    const cell = r[note] ?? "";
    if (!/\bnoisy\b/.test(cell)) r[note] = cell ? `${cell}, noisy` : "noisy";
  }
  const why = `noisy: other programs used more than ${NOISY_PCT}% of a core during the window; not a result, and left out of --compare verdicts.`;
  if (!(t.notes ?? []).includes(why)) t.notes = [...(t.notes ?? []), why];
}

/** True when any window of the scenario was noisy: a kept run, or a row of one of its tables. */
export function scenarioNoisy(r: Pick<ScenarioResult, "runs" | "tables">): boolean {
  return r.runs.some((x) => x.otherCpuPct > NOISY_PCT) || r.tables.some((t) => noisyRows(t).length > 0);
}

/**
 * Marks noisy rows in every table and fills in each metric's point and
 * noisy flag where the scenario left them out. A scenario that knows which
 * windows a metric came from sets `noisy` itself; otherwise any noisy window
 * of the scenario makes all its metrics noisy (left out, never misjudged).
 */
export function stampResult(r: ScenarioResult, quick: boolean): void {
  for (const t of r.tables) markNoisy(t);
  // A table without an `other` column cannot mark its rows: it names the scenario's noisy windows instead.
  const noisyRuns = r.runs.filter((x) => x.otherCpuPct > NOISY_PCT);
  if (noisyRuns.length > 0) {
    const which = noisyRuns.map((x) => `${x.server} round ${x.round + 1} (other ${x.otherCpuPct.toFixed(0)}%)`).join(", ");
    for (const t of r.tables) if (!t.columns.includes("other")) t.notes = [...(t.notes ?? []), `noisy windows in this scenario: ${which}; not a result, and left out of --compare verdicts.`];
  }
  const point = pointOf(r.scenario, r.config, quick);
  const noisy = scenarioNoisy(r);
  for (const m of r.metrics as Metric[]) {
    m.point ??= point;
    m.noisy ??= noisy;
  }
}
