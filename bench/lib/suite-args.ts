/**
 * Command line of `bun run bench`: scenario names, the suite's own flags,
 * and scenario flags. A scenario flag given as `--name value` goes to every
 * selected scenario that declares it; `--scenario.name value` to that one
 * only. A flag no selected scenario declares is an error, not ignored.
 * @module
 */
import { parseTolerance } from "./compare-cli.ts";
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
  /** Values of the extra suite-level flags a caller declared (e.g. `url` for `tickgate bench`). */
  extra: Map<string, string>;
}

/** A suite-level flag: one definition for the parser and every help text that lists it. */
export interface SuiteFlag {
  name: string;
  /** Placeholder of its value; absent for a switch. */
  value?: string;
  help: string;
}

/** The flags of every bench runner (`bun run bench` and `tickgate bench --url`), in help order. */
export const SUITE_FLAGS: readonly SuiteFlag[] = [
  { name: "quick", help: "every scenario small: a smoke run (its metrics are compared only with other quick runs)" },
  { name: "out", value: "DIR", help: "where results.json, results.md and chart.svg go (default bench/results/<timestamp>/; with --url ./bench-results/<timestamp>/)" },
  { name: "compare", value: "BASELINE.json", help: "judge every metric against a saved results.json (checked before anything runs)" },
  { name: "tolerance", value: "PCT", help: "how much worse than the baseline a metric may get, in percent (default 10)" },
  { name: "list", help: "list the scenarios and exit" },
  { name: "help", help: "this text" },
];

/** `  --name VALUE   help` lines for a help text. */
export function flagLines(flags: readonly SuiteFlag[]): string[] {
  const head = (f: SuiteFlag) => `--${f.name}${f.value ? ` ${f.value}` : ""}`;
  const width = Math.max(...flags.map((f) => head(f).length));
  return flags.map((f) => `  ${head(f).padEnd(width)}  ${f.help}`);
}

export function parseSuiteArgs(argv: readonly string[], all: readonly Scenario[], extraFlags: readonly SuiteFlag[] = []): SuiteArgs {
  const BOOLEAN = new Set([...SUITE_FLAGS, ...extraFlags].filter((f) => !f.value).map((f) => f.name));
  const SUITE = new Set([...SUITE_FLAGS, ...extraFlags].filter((f) => f.value).map((f) => f.name));
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

  const tol = parseTolerance(suite.get("tolerance")) * 100;
  return {
    scenarios: selected,
    quick: bools.has("quick"),
    help: bools.has("help"),
    list: bools.has("list"),
    out: suite.get("out") ?? null,
    compare: suite.get("compare") ?? null,
    tolerance: tol / 100,
    flags,
    extra: new Map([...suite].filter(([k]) => extraFlags.some((f) => f.name === k))),
  };
}

/**
 * The runner's help: usage, the suite flags, every scenario's flags with
 * their defaults. `tickgate bench --help` prints the same text, built from
 * the same definitions, so the two cannot drift apart.
 */
export function helpText(all: readonly Scenario[], o: { usage?: string[]; extraFlags?: readonly SuiteFlag[]; exitCodes?: string } = {}): string {
  const out = [
    ...(o.usage ?? [
      "bun run bench [scenario...] [--quick] [--out DIR] [--compare BASELINE.json] [--tolerance PCT] [flags]",
      "bun run bench compare BASELINE.json CURRENT.json [--tolerance PCT]",
      "",
      "  No scenario = all of them but those marked (on demand). `compare` judges two saved results.json",
      "  files without running anything.",
    ]),
    "",
    "Flags:",
    ...flagLines([...(o.extraFlags ?? []), ...SUITE_FLAGS]),
    "",
    "Scenario flags: --name value (every selected scenario that has it) or --scenario.name value.",
    "",
  ];
  for (const s of all) {
    out.push(`${s.name}: ${s.describe}`);
    for (const f of s.flags) out.push(`  --${f.name.padEnd(16)} ${f.def}${f.quick !== undefined ? ` (quick: ${f.quick})` : ""}  ${f.help}`);
    out.push("");
  }
  if (o.exitCodes) out.push(o.exitCodes, "");
  return out.join("\n");
}
