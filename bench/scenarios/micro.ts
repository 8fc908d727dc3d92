/**
 * `micro`: the mitata micro-benchmarks (bench/micro/*.bench.ts) in their own
 * process pinned to the server's core, reported as a table of ns per call
 * and as metrics `--compare` can check, so a regression in the frame
 * writer, the scanner or the channel index shows before the fan-out bench.
 * Runs only when named (`bun run bench micro`).
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MicroRow } from "../micro/run.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext } from "../lib/scenario.ts";

const RUNNER = join(import.meta.dir, "../micro/run.ts");

const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "");

export const microScenario: Scenario = {
  name: "micro",
  describe: "mitata micro-benchmarks: publication frame writer, msgpack scanner, channel index (on demand)",
  onDemand: true,
  flags: [
    { name: "files", def: "all", help: "comma-separated bench/micro/<name>.bench.ts to run, or all" },
    { name: "filter", def: "", help: "regular expression on benchmark names" },
    { name: "smoke", def: "off", quick: "on", help: "first value of every size sweep only" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const dir = mkdtempSync(join(tmpdir(), "tickgate-micro-"));
    const out = join(dir, "micro.json");
    const files = f.str("files") === "all" ? [] : f.list("files");
    const args = [...files, "--json", out, ...(f.bool("smoke") ? ["--smoke"] : []), ...(f.str("filter") ? ["--filter", f.str("filter")] : [])];
    ctx.progress.begin("micro", 1);
    ctx.progress.step(`mitata: ${files.length ? files.join(", ") : "every bench/micro file"}`);
    try {
      const proc = Bun.spawn([...ctx.env.place.server, process.execPath, RUNNER, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
      const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      if (code !== 0) throw new Error(`bench/micro/run.ts exited ${code}: ${(stderr || stdout).slice(-1500)}`);
      const { runtime, rows } = JSON.parse(readFileSync(out, "utf8")) as { runtime: string; rows: MicroRow[] };
      res.tables.push({
        title: `micro: ns per call (mitata, ${runtime}, ${ctx.env.place.pinned ? "pinned to core 0" : "unpinned"})`,
        columns: ["benchmark", "avg ns", "p50 ns", "p99 ns", "min ns", "max ns", "samples"],
        rows: rows.map((r) => [r.name, fmt.f(r.avgNs, 1), fmt.f(r.p50Ns, 1), fmt.f(r.p99Ns, 1), fmt.f(r.minNs, 1), fmt.f(r.maxNs, 1), String(r.samples)]),
        notes: ["p50 is the figure to compare: avg and max carry GC pauses and other programs' interruptions."],
      });
      for (const r of rows) res.metrics.push({ id: `micro.${slug(r.name)}`, value: r.p50Ns, better: "lower", describe: `${r.name}, p50 ns per call` });
      res.headline = `${rows.length} benchmarks; ` + rows.slice(0, 3).map((r) => `${r.name} ${fmt.f(r.p50Ns, 0)} ns`).join(", ");
      res.data = { rows };
      return res;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
