/**
 * Command line of `bun run bench`: scenario names, the suite's own flags,
 * and scenario flags. A scenario flag given as `--name value` goes to every
 * selected scenario that declares it; `--scenario.name value` to that one
 * only. A flag no selected scenario declares is an error, not ignored.
 * @module
 */
import type { Scenario } from "./scenario.ts";

export interface SuiteArgs {
  scenarios: Scenario[];
  quick: boolean;
  help: boolean;
  list: boolean;
  out: string | null;
  compare: string | null;
  /** Fraction, e.g. 0.1 for `--tolerance 10`. */
  tolerance: number;
  /** Per scenario: flag name → value. */
  flags: Map<string, Map<string, string>>;
}

const BOOLEAN = new Set(["quick", "help", "list"]);
const SUITE = new Set(["out", "compare", "tolerance"]);

export function parseSuiteArgs(argv: readonly string[], all: readonly Scenario[]): SuiteArgs {
  const names: string[] = [];
  const bools = new Set<string>();
  const suite = new Map<string, string>();
  const generic = new Map<string, string>();
  const scoped: [string, string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) {
      names.push(a);
      continue;
    }
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (BOOLEAN.has(name)) {
      if (value !== undefined) throw new Error(`--${name} takes no value`);
      bools.add(name);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || value.startsWith("--")) throw new Error(`--${name} needs a value`);
    }
    if (SUITE.has(name)) suite.set(name, value);
    else if (name.includes(".")) {
      const dot = name.indexOf(".");
      scoped.push([name.slice(0, dot), name.slice(dot + 1), value]);
    } else generic.set(name, value);
  }

  const known = new Map(all.map((s) => [s.name, s]));
  const selected: Scenario[] = [];
  const everyday = all.filter((s) => !s.onDemand).map((s) => s.name);
  const asked = names.length === 0 ? everyday : names.flatMap((n) => (n === "all" ? everyday : [n]));
  for (const n of asked) {
    const s = known.get(n);
    if (!s) throw new Error(`unknown scenario '${n}'; known: ${all.map((x) => x.name).join(", ")}`);
    if (!selected.includes(s)) selected.push(s);
  }

  const flags = new Map(selected.map((s) => [s.name, new Map<string, string>()]));
  for (const [name, value] of generic) {
    const takers = selected.filter((s) => s.flags.some((f) => f.name === name));
    if (takers.length === 0) throw new Error(`--${name}: no selected scenario takes it (selected: ${selected.map((s) => s.name).join(", ")}); see --help`);
    for (const s of takers) flags.get(s.name)!.set(name, value);
  }
  for (const [scen, name, value] of scoped) {
    const s = selected.find((x) => x.name === scen);
    if (!s) throw new Error(`--${scen}.${name}: scenario '${scen}' is not selected`);
    if (!s.flags.some((f) => f.name === name)) throw new Error(`--${scen}.${name}: ${scen} has no flag --${name}; it has ${s.flags.map((f) => `--${f.name}`).join(" ")}`);
    flags.get(scen)!.set(name, value);
  }

  const tol = Number(suite.get("tolerance") ?? "10");
  if (!Number.isFinite(tol) || tol < 0 || tol > 1000) throw new Error(`--tolerance is a percentage ≥ 0, got '${suite.get("tolerance")}'`);
  return {
    scenarios: selected,
    quick: bools.has("quick"),
    help: bools.has("help"),
    list: bools.has("list"),
    out: suite.get("out") ?? null,
    compare: suite.get("compare") ?? null,
    tolerance: tol / 100,
    flags,
  };
}

export function helpText(all: readonly Scenario[]): string {
  const out = [
    "bun run bench [scenario...] [--quick] [--out DIR] [--compare BASELINE.json] [--tolerance PCT] [flags]",
    "",
    "  no scenario = all of them but those marked (on demand). --quick: every scenario small (a smoke run, under a minute).",
    "  --out DIR: where results go (default bench/results/<timestamp>/). --compare: flag every",
    "  metric worse than the baseline's by more than --tolerance percent (default 10); exits 3 if any.",
    "  Scenario flags: --name value (every selected scenario that has it) or --scenario.name value.",
    "",
  ];
  for (const s of all) {
    out.push(`${s.name}: ${s.describe}`);
    for (const f of s.flags) out.push(`  --${f.name.padEnd(16)} ${f.def}${f.quick !== undefined ? ` (quick: ${f.quick})` : ""}  ${f.help}`);
    out.push("");
  }
  return out.join("\n");
}
