/**
 * What a benchmark scenario is: a name, its flags with defaults (full and
 * `--quick`), and a `run` that returns tables, target verdicts and metrics
 * for the comparison against a baseline. bench/run.ts selects, runs and
 * reports them; each scenario lives in its own file in bench/scenarios/.
 * @module
 */
import type { Placement } from "./proc.ts";
import type { Progress } from "./progress.ts";
import type { TimeSeries } from "./series-svg.ts";
import type { RunResult } from "./report.ts";
import type { TargetResult } from "./targets.ts";

export interface FlagSpec {
  name: string;
  /** Default of a full run. */
  def: string;
  /** Default under `--quick`, when it differs. */
  quick?: string;
  help: string;
}

/** A scenario's flag values, checked when read. */
export class Flags {
  constructor(
    readonly scenario: string,
    readonly specs: readonly FlagSpec[],
    readonly given: ReadonlyMap<string, string>,
    readonly quick: boolean,
  ) {}

  str(name: string): string {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new Error(`${this.scenario}: flag --${name} is not declared`);
    return this.given.get(name) ?? (this.quick && spec.quick !== undefined ? spec.quick : spec.def);
  }

  int(name: string, min: number, max: number): number {
    const raw = this.str(name);
    const n = Number(raw.replaceAll("_", ""));
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${this.scenario}: --${name} must be an integer in [${min}, ${max}], got '${raw}'`);
    return n;
  }

  num(name: string, min: number, max: number): number {
    const raw = this.str(name);
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${this.scenario}: --${name} must be a number in [${min}, ${max}], got '${raw}'`);
    return n;
  }

  /** `on`/`off` (also true/false, yes/no, 1/0). */
  bool(name: string): boolean {
    const raw = this.str(name).toLowerCase();
    if (["on", "true", "yes", "1"].includes(raw)) return true;
    if (["off", "false", "no", "0"].includes(raw)) return false;
    throw new Error(`${this.scenario}: --${name} must be on or off, got '${raw}'`);
  }

  /** Comma-separated list. */
  list(name: string): string[] {
    return this.str(name)
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** Every flag with its effective value, for the results file. */
  effective(): Record<string, string> {
    return Object.fromEntries(this.specs.map((s) => [s.name, this.str(s.name)]));
  }
}

export interface RunEnv {
  place: Placement;
  /** Clock ticks per second of /proc CPU counters. */
  hz: number;
}

export interface ScenarioContext {
  flags: Flags;
  quick: boolean;
  env: RunEnv;
  progress: Progress;
}

/** A table of the results, rendered as text on the console and as markdown in results.md. */
export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
  /** Printed under the table. */
  notes?: string[];
}

/**
 * A figure worth comparing against a baseline with `--compare`: ratios
 * (tickgate ÷ a peer, history on ÷ off) travel between machines; absolute
 * figures only mean something against a baseline from the same machine.
 */
export interface Metric {
  id: string;
  value: number;
  better: "higher" | "lower";
  describe: string;
  /**
   * Where it was measured: `quick` or `full`, the scenario and the flags that
   * shape its workload. Filled in by the runner (bench/lib/points.ts) unless
   * the scenario names it; `--compare` judges a metric only against the same
   * point.
   */
  point?: string;
  /**
   * Other programs disturbed the window(s) it came from (other CPU > 10%):
   * left out of `--compare` verdicts. Filled in by the runner from the
   * scenario's runs and tables unless the scenario says.
   */
  noisy?: boolean;
}

/** Latency percentiles and throughput of one server at one point, for the SVG chart. */
export interface ChartSeries {
  server: string;
  deliveriesPerSec: number;
  latencyUs: { p50: number; p90?: number; p99: number; p999: number; max: number };
}

export interface ChartGroup {
  title: string;
  series: ChartSeries[];
}

export interface ScenarioResult {
  scenario: string;
  describe: string;
  /** Effective flag values. */
  config: Record<string, string>;
  /** One line for the summary at the end. */
  headline: string;
  tables: Table[];
  targets: TargetResult[];
  metrics: Metric[];
  notes: string[];
  /** Every measured window kept, for scenarios built on them. */
  runs: RunResult[];
  chart: ChartGroup[];
  /** Scenario-specific figures (tests read these to check counts). */
  data: Record<string, unknown>;
  /** Values sampled over time (the soak), drawn in series.svg. */
  series?: TimeSeries[];
  seconds: number;
}

export interface Scenario {
  name: string;
  describe: string;
  /** Runs only when named, never as part of "all" (long or not a load test). */
  onDemand?: boolean;
  flags: FlagSpec[];
  run(ctx: ScenarioContext): Promise<Omit<ScenarioResult, "scenario" | "describe" | "config" | "seconds">>;
}

/** An empty result to fill in. */
export function emptyResult(): Omit<ScenarioResult, "scenario" | "describe" | "config" | "seconds"> {
  return { headline: "", tables: [], targets: [], metrics: [], notes: [], runs: [], chart: [], data: {} };
}

/** Shared number formatting for tables. */
export const fmt = {
  int: (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-"),
  f: (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-"),
  pct: (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)}%` : "-"),
  ratio: (x: number) => (Number.isFinite(x) ? `${x.toFixed(3)}×` : "-"),
  us: (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : Math.round(x).toLocaleString("en-US")),
  kib: (x: number) => (Number.isFinite(x) ? `${(x / 1024).toFixed(1)} MiB` : "-"),
};
