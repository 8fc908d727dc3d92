/**
 * `bun run bench compare BASELINE.json CURRENT.json [--tolerance PCT]` (and
 * `tickgate bench compare ...`): judges two saved results files without
 * running anything. Prints the comparison table and a one-line verdict;
 * returns the exit code ({@link BenchExit}). Runs on Bun and on Node.
 * @module
 */
import { BenchExit, compareMetrics, compareTable, EXIT_CODES_TEXT, loadResults, verdictOf } from "./compare.ts";
import { textTable } from "./render.ts";

export const COMPARE_USAGE = "compare BASELINE.json CURRENT.json [--tolerance PCT]";

export const COMPARE_HELP = `${COMPARE_USAGE}

  Judges every metric of CURRENT against the same metric of BASELINE (two
  results.json files a run wrote), without running anything. A metric is
  judged only when both were measured at the same point (quick or full, same
  workload flags) and neither window was noisy; it is WORSE when it moved
  against its direction by more than --tolerance percent (default 10).

${EXIT_CODES_TEXT}
`;

/** Parses `--tolerance PCT` (percent) → fraction; throws a one-line message. */
export function parseTolerance(raw: string | undefined): number {
  const tol = Number(raw ?? "10");
  if (raw !== undefined && raw.trim() === "") throw new Error("--tolerance needs a value");
  if (!Number.isFinite(tol) || tol < 0 || tol > 1_000_000) throw new Error(`--tolerance is a percentage from 0 to 1000000, got '${raw}'`);
  return tol / 100;
}

/**
 * Runs the comparison; `out` and `err` take whole lines. Usage and file
 * errors are one line on `err` and exit code 2.
 */
export function runCompare(argv: readonly string[], out: (s: string) => void = console.log, err: (s: string) => void = console.error, prog = "bench"): number {
  const files: string[] = [];
  let tolRaw: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      out(COMPARE_HELP);
      return BenchExit.OK;
    }
    if (a === "--tolerance" || a.startsWith("--tolerance=")) {
      tolRaw = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (tolRaw === undefined) {
        err(`${prog}: --tolerance needs a value`);
        return BenchExit.USAGE;
      }
    } else if (a.startsWith("--")) {
      err(`${prog}: compare: unknown flag ${a}; usage: ${COMPARE_USAGE}`);
      return BenchExit.USAGE;
    } else files.push(a);
  }
  if (files.length !== 2) {
    err(`${prog}: compare takes two results files, got ${files.length}; usage: ${COMPARE_USAGE}`);
    return BenchExit.USAGE;
  }
  try {
    const tolerance = parseTolerance(tolRaw);
    const baseline = loadResults(files[0]!);
    const current = loadResults(files[1]!);
    const rows = compareMetrics(current, baseline, tolerance);
    const v = verdictOf(rows);
    out(textTable({ ...compareTable(rows, tolerance, files[0]!), title: `${files[1]} against ${files[0]} (tolerance ${(tolerance * 100).toFixed(0)}%)` }));
    out(v.line);
    return v.exitCode;
  } catch (e) {
    // A missing or garbled file (BaselineError) or a bad tolerance: one line, nothing compared.
    err(`${prog}: ${(e as Error).message.split("\n")[0]}`);
    return BenchExit.USAGE;
  }
}
