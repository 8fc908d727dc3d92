/**
 * Tables as aligned text for the console and as markdown for results.md.
 * The first column is left-aligned (names), numbers right-aligned.
 * @module
 */
import type { Table } from "./scenario.ts";

const numeric = (s: string) => /^[-+]?[\d,.]+(\s?(×|%|µs|ms|s|KiB|MiB))?$/.test(s.trim());

export function textTable(t: Table): string {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i > 0 && numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [t.title, line(t.columns), line(widths.map((w) => "-".repeat(w))), ...t.rows.map(line)];
  for (const n of t.notes ?? []) out.push(`  ${n}`);
  return out.join("\n");
}

const cell = (s: string) => s.replaceAll("|", "\\|");

export function markdownTable(t: Table): string {
  const align = t.columns.map((_, i) => (i > 0 && t.rows.length > 0 && t.rows.every((r) => r[i] === undefined || r[i] === "-" || r[i] === "" || numeric(r[i]!)) ? "---:" : "---"));
  const out = [`**${cell(t.title)}**`, "", `| ${t.columns.map(cell).join(" | ")} |`, `| ${align.join(" | ")} |`, ...t.rows.map((r) => `| ${r.map(cell).join(" | ")} |`)];
  if (t.notes?.length) out.push("", ...t.notes.map((n) => `- ${n}`));
  return out.join("\n");
}
