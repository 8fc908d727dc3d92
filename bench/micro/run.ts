/**
 * `npm run bench:micro` (also `bun run bench micro`): the mitata
 * micro-benchmarks of the pieces the fan-out path relies on, every
 * bench/micro/*.bench.ts file or those named.
 *
 *   bun bench/micro/run.ts [publication-frame|msgpack-scan|channel-index ...]
 *                          [--filter REGEX] [--json out.json] [--smoke]
 *
 * `--smoke` keeps the first value of every sweep, for a test that only
 * checks they run. `--json` writes one row per benchmark and argument:
 * name, ns per call (avg, p50, p99, min, max), samples. See bench/README.md.
 * @module
 */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "mitata";
import { argFlag, argValue } from "../lib/args.ts";
import { micro } from "./fixtures.ts";

export interface MicroRow {
  name: string;
  avgNs: number;
  p50Ns: number;
  p99Ns: number;
  minNs: number;
  maxNs: number;
  samples: number;
}

const argv = process.argv.slice(2);
const files = readdirSync(import.meta.dir).filter((f) => f.endsWith(".bench.ts")).sort();
const names = argv.filter((a, i) => !a.startsWith("--") && !["--filter", "--json"].includes(argv[i - 1] ?? ""));
for (const n of names) {
  if (files.includes(`${n}.bench.ts`)) continue;
  console.error(`bench:micro: unknown micro-benchmark '${n}'; known: ${files.map((f) => f.replace(".bench.ts", "")).join(", ")}`);
  process.exit(2);
}
micro.smoke = argFlag(argv, "--smoke");
for (const f of files) if (names.length === 0 || names.includes(f.replace(".bench.ts", ""))) await import(join(import.meta.dir, f));

const filter = argValue(argv, "--filter", "");
const json = argValue(argv, "--json", "");
const { benchmarks } = await run({ ...(filter ? { filter: new RegExp(filter) } : {}), throw: true, colors: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR });
const rows: MicroRow[] = benchmarks.flatMap((b) =>
  b.runs.map((r) => {
    if (!r.stats) throw new Error(`${r.name}: ${String((r.error as Error)?.message ?? r.error)}`);
    const s = r.stats;
    return { name: r.name, avgNs: s.avg, p50Ns: s.p50, p99Ns: s.p99, minNs: s.min, maxNs: s.max, samples: s.samples.length };
  }),
);
if (json) {
  writeFileSync(json, JSON.stringify({ runtime: `bun ${Bun.version}`, rows }, null, 2) + "\n");
  console.log(`wrote ${json}`);
}
