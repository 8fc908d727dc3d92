/**
 * The suite's results on disk: results.json (everything, with the machine's
 * facts), results.md (the tables and target verdicts), chart.svg
 * (latency percentiles and throughput per server), and series.svg when a
 * scenario sampled values over time (the soak).
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compareTable, type CompareRow } from "./compare.ts";
import type { Machine } from "./proc.ts";
import { markdownTable } from "./render.ts";
import type { ScenarioResult, Table } from "./scenario.ts";
import { seriesSvg } from "./series-svg.ts";
import { chartSvg } from "./svg.ts";
import { formatValue } from "./targets.ts";

export interface SuiteResults {
  command: string;
  machine: Machine;
  placement: string;
  quick: boolean;
  startedAt: string;
  seconds: number;
  scenarios: ScenarioResult[];
  /** Scenarios that failed to run, with the error. */
  failed: { scenario: string; error: string }[];
  compare?: { baseline: string; tolerance: number; rows: CompareRow[]; regressions: number; verdict?: string; exitCode?: number };
}

export function machineLine(m: Machine): string {
  return `${m.cpus} × ${m.model}, ${m.memTotalGiB} GiB, Linux ${m.kernel}, Bun ${m.bun}, Node ${m.node ?? "absent"}, ${m.date}`;
}

/** Every target verdict of the run, in one table. */
export function targetsTable(results: SuiteResults): Table {
  const rows = results.scenarios.flatMap((s) => s.targets.map((t) => [t.id, t.describe, t.target, formatValue(t), t.verdict, t.note ?? ""]));
  return { title: "targets", columns: ["target", "what", "bound", "measured", "verdict", "note"], rows };
}

export function summaryTable(results: SuiteResults): Table {
  return {
    title: "summary",
    columns: ["scenario", "result", "targets", "seconds"],
    rows: [
      ...results.scenarios.map((s) => {
        const met = s.targets.filter((t) => t.verdict === "met").length;
        const notMet = s.targets.filter((t) => t.verdict === "not met").length;
        const unmeasured = s.targets.length - met - notMet;
        const t = s.targets.length === 0 ? "no target" : [`${met} met`, notMet ? `${notMet} not met` : "", unmeasured ? `${unmeasured} not measured` : ""].filter(Boolean).join(", ");
        return [s.scenario, s.headline, t, s.seconds.toFixed(0)];
      }),
      ...results.failed.map((f) => [f.scenario, `FAILED: ${f.error.split("\n")[0]!.slice(0, 160)}`, "-", "-"]),
    ],
  };
}

export function markdown(results: SuiteResults): string {
  const out: string[] = [
    `# tickgate benchmark results`,
    "",
    `- command: \`${results.command}\``,
    `- machine: ${machineLine(results.machine)}`,
    `- placement: ${results.placement}`,
    `- started ${results.startedAt}, took ${results.seconds.toFixed(0)} s${results.quick ? " (--quick: small smoke-run sizes, not results)" : ""}`,
    "",
    markdownTable(summaryTable(results)),
    "",
    markdownTable(targetsTable(results)),
    "",
  ];
  for (const s of results.scenarios) {
    out.push(`## ${s.scenario}`, "", s.describe, "", `Flags: ${Object.entries(s.config).map(([k, v]) => `\`--${k} ${v}\``).join(" ")}`, "");
    for (const t of s.tables) out.push(markdownTable(t), "");
    if (s.notes.length) out.push(...s.notes.map((n) => `- ${n}`), "");
  }
  if (results.compare) {
    const c = results.compare;
    out.push("## compared with a baseline", "", c.verdict ?? `${c.regressions} metric(s) worse than the ${(c.tolerance * 100).toFixed(0)}% tolerance.`, "");
    out.push(markdownTable(compareTable(c.rows, c.tolerance, c.baseline)), "");
  }
  return out.join("\n") + "\n";
}

/** Writes the files; returns their paths. */
export function writeResults(dir: string, results: SuiteResults): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, "results.json"), join(dir, "results.md"), join(dir, "chart.svg")];
  writeFileSync(files[0]!, JSON.stringify(results, null, 2) + "\n");
  writeFileSync(files[1]!, markdown(results));
  writeFileSync(files[2]!, chartSvg(results.scenarios.flatMap((s) => s.chart), machineLine(results.machine)));
  const series = results.scenarios.flatMap((s) => s.series ?? []);
  if (series.length > 0) {
    files.push(join(dir, "series.svg"));
    writeFileSync(files[3]!, seriesSvg(series, "tickgate soak: server resources over time", machineLine(results.machine)));
  }
  return files;
}
