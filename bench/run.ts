/**
 * `bun run bench [scenario...]`: the benchmark suite. Runs the selected
 * scenarios (all by default) one after another, each with its server and
 * load processes pinned to their own cores, prints a progress line while
 * they run and a summary at the end, checks every target in
 * bench/targets.json, and writes results.json, results.md and chart.svg to
 * bench/results/<timestamp>/ (or --out). `--compare BASELINE.json` (checked
 * before anything runs) judges every metric against the baseline;
 * `bun run bench compare A.json B.json` judges two saved files without
 * running anything. See docs/benchmarks.md. Exit codes: {@link BenchExit}
 * (0 ok, 1 a scenario failed, 2 usage or baseline error, 3 regression,
 * 4 not judged).
 * @module
 */
import { join } from "node:path";
import { BenchExit, compareMetrics, compareTable, EXIT_CODES_TEXT, loadResults, verdictOf, type SuiteMetrics } from "./lib/compare.ts";
import { runCompare } from "./lib/compare-cli.ts";
import { stampResult } from "./lib/points.ts";
import { clockTicks, machine, placement } from "./lib/proc.ts";
import { Progress } from "./lib/progress.ts";
import { textTable } from "./lib/render.ts";
import { machineLine, summaryTable, targetsTable, writeResults, type SuiteResults } from "./lib/results.ts";
import { Flags, type RunEnv, type ScenarioResult } from "./lib/scenario.ts";
import { helpText, parseSuiteArgs, type SuiteArgs } from "./lib/suite-args.ts";
import { SCENARIOS } from "./scenarios/index.ts";

function stamp(d: Date): string {
  return d.toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19);
}

export async function runSuite(argv: string[]): Promise<{ results: SuiteResults; dir: string; exitCode: number }> {
  const args: SuiteArgs = parseSuiteArgs(argv, SCENARIOS);
  // A baseline that cannot be read fails now, not after the run it was meant to judge.
  const baseline: SuiteMetrics | null = args.compare ? loadResults(args.compare) : null;
  const started = new Date();
  const place = placement();
  const env: RunEnv = { place, hz: clockTicks() };
  const m = machine();
  const progress = new Progress();
  console.log(`tickgate bench: ${args.scenarios.map((s) => s.name).join(", ")}${args.quick ? " (--quick)" : ""}`);
  console.log(`machine: ${machineLine(m)}`);
  console.log(`${place.note}`);

  const results: SuiteResults = {
    command: `bun run bench ${argv.join(" ")}`.trim(),
    machine: m,
    placement: place.note,
    quick: args.quick,
    startedAt: started.toISOString(),
    seconds: 0,
    scenarios: [],
    failed: [],
  };
  for (const sc of args.scenarios) {
    const flags = new Flags(sc.name, sc.flags, args.flags.get(sc.name)!, args.quick);
    const t0 = performance.now();
    console.log(`\n== ${sc.name}: ${sc.describe}`);
    try {
      const r = await sc.run({ flags, quick: args.quick, env, progress });
      progress.end();
      const full: ScenarioResult = { scenario: sc.name, describe: sc.describe, config: flags.effective(), seconds: (performance.now() - t0) / 1000, ...r };
      stampResult(full, args.quick);
      results.scenarios.push(full);
      for (const t of full.tables) console.log("\n" + textTable(t));
      for (const n of full.notes) console.log(`note: ${n}`);
      for (const t of full.targets) console.log(`target ${t.id}: ${t.verdict}${t.value === null ? "" : ` (${t.target})`}${t.note ? ` — ${t.note}` : ""}`);
    } catch (e) {
      progress.end();
      const msg = (e as Error).stack ?? String(e);
      console.error(`${sc.name} FAILED: ${msg}`);
      results.failed.push({ scenario: sc.name, error: (e as Error).message ?? String(e) });
    }
  }
  results.seconds = (Date.now() - started.getTime()) / 1000;

  let exitCode: number = results.failed.length > 0 ? BenchExit.FAILED : BenchExit.OK;
  if (args.compare && baseline) {
    const rows = compareMetrics(results, baseline, args.tolerance);
    const v = verdictOf(rows);
    results.compare = { baseline: args.compare, tolerance: args.tolerance, rows, regressions: v.regressions, verdict: v.line, exitCode: v.exitCode };
    console.log("\n" + textTable(compareTable(rows, args.tolerance, args.compare)));
    console.log(v.line);
    if (exitCode === BenchExit.OK) exitCode = v.exitCode;
  }
  console.log("\n" + textTable(summaryTable(results)));
  if (results.scenarios.some((s) => s.targets.length > 0)) console.log("\n" + textTable(targetsTable(results)));
  const dir = args.out ?? join(import.meta.dir, "results", stamp(started));
  const files = writeResults(dir, results);
  console.log(`\nwrote ${files.join(", ")}`);
  return { results, dir, exitCode };
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  if (argv[0] === "compare") process.exit(runCompare(argv.slice(1)));
  let args: SuiteArgs;
  try {
    args = parseSuiteArgs(argv, SCENARIOS);
    if (args.compare && !args.help && !args.list) loadResults(args.compare);
  } catch (e) {
    console.error(`bench: ${(e as Error).message.split("\n")[0]}`);
    process.exit(BenchExit.USAGE);
  }
  if (args.help || args.list) {
    console.log(args.list ? SCENARIOS.map((s) => `${s.name.padEnd(12)} ${s.describe}`).join("\n") : helpText(SCENARIOS, { exitCodes: EXIT_CODES_TEXT }));
    process.exit(BenchExit.OK);
  }
  try {
    const { exitCode } = await runSuite(argv);
    process.exit(exitCode);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    process.exit(BenchExit.FAILED);
  }
}
