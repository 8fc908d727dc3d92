/**
 * The results chart as hand-written SVG (no browser, no dependency): one row
 * per measured point, with latency percentiles per server as grouped bars on
 * a log scale (left) and deliveries/s per server (right).
 * @module
 */
import type { ChartGroup } from "./scenario.ts";

const W = 960;
const ROW_H = 260;
const TOP = 48;
const PANEL_TOP = 34;
const PANEL_H = 170;
const LEFT_X = 70;
const LEFT_W = 520;
const RIGHT_X = 680;
const RIGHT_W = 250;
const PCTS = [
  ["p50", "p50"],
  ["p90", "p90"],
  ["p99", "p99"],
  ["p999", "p99.9"],
  ["max", "max"],
] as const;
/** One colour per server, tickgate first; colour-blind friendly (Okabe–Ito). */
const COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

const esc = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

function human(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(x >= 1e7 ? 0 : 1)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(x >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(x));
}

function humanUs(us: number): string {
  if (us >= 1e6) return `${(us / 1e6).toFixed(1)} s`;
  if (us >= 1e3) return `${(us / 1e3).toFixed(us >= 1e4 ? 0 : 1)} ms`;
  return `${Math.round(us)} µs`;
}

function latencyPanel(g: ChartGroup, y0: number, colour: (server: string) => string): string[] {
  const out: string[] = [];
  const values = g.series.flatMap((s) => PCTS.map(([k]) => s.latencyUs[k]).filter((v): v is number => typeof v === "number" && v > 0));
  if (values.length === 0) return [`<text x="${LEFT_X}" y="${y0 + PANEL_TOP + 20}" class="note">no latency samples</text>`];
  // Log scale over whole decades that cover every value.
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values) * 1.0001)));
  const top = y0 + PANEL_TOP;
  const yOf = (v: number) => top + PANEL_H - (PANEL_H * Math.log10(v / lo)) / Math.log10(hi / lo);
  out.push(`<text x="${LEFT_X}" y="${top - 8}" class="axis">publish→receive latency (log scale)</text>`);
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    const y = yOf(d);
    out.push(`<line x1="${LEFT_X}" x2="${LEFT_X + LEFT_W}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/>`);
    out.push(`<text x="${LEFT_X - 6}" y="${(y + 4).toFixed(1)}" class="tick" text-anchor="end">${humanUs(d)}</text>`);
  }
  const groupW = LEFT_W / PCTS.length;
  const barW = Math.min(18, (groupW - 12) / Math.max(1, g.series.length));
  PCTS.forEach(([k, label], pi) => {
    const gx = LEFT_X + pi * groupW + (groupW - barW * g.series.length) / 2;
    g.series.forEach((s, si) => {
      const v = s.latencyUs[k];
      if (typeof v !== "number" || v <= 0) return;
      const y = yOf(v);
      out.push(`<rect x="${(gx + si * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + PANEL_H - y).toFixed(1)}" fill="${colour(s.server)}"><title>${esc(`${s.server} ${label}: ${humanUs(v)}`)}</title></rect>`);
    });
    out.push(`<text x="${(LEFT_X + pi * groupW + groupW / 2).toFixed(1)}" y="${top + PANEL_H + 16}" class="tick" text-anchor="middle">${label}</text>`);
  });
  return out;
}

function throughputPanel(g: ChartGroup, y0: number, colour: (server: string) => string): string[] {
  const out: string[] = [];
  const top = y0 + PANEL_TOP;
  const max = Math.max(1, ...g.series.map((s) => s.deliveriesPerSec));
  out.push(`<text x="${RIGHT_X}" y="${top - 8}" class="axis">deliveries/s</text>`);
  const barH = Math.min(26, PANEL_H / Math.max(1, g.series.length) - 6);
  g.series.forEach((s, si) => {
    const y = top + si * (barH + 6);
    const w = (RIGHT_W - 60) * (s.deliveriesPerSec / max);
    out.push(`<rect x="${RIGHT_X}" y="${y.toFixed(1)}" width="${Math.max(1, w).toFixed(1)}" height="${barH.toFixed(1)}" fill="${colour(s.server)}"><title>${esc(`${s.server}: ${Math.round(s.deliveriesPerSec)} deliveries/s`)}</title></rect>`);
    out.push(`<text x="${(RIGHT_X + Math.max(1, w) + 4).toFixed(1)}" y="${(y + barH / 2 + 4).toFixed(1)}" class="tick">${human(s.deliveriesPerSec)}</text>`);
  });
  return out;
}

/** The whole chart; `subtitle` carries the machine and the date. */
export function chartSvg(groups: ChartGroup[], subtitle: string): string {
  const servers = [...new Set(groups.flatMap((g) => g.series.map((s) => s.server)))];
  // Each server keeps its colour in every row, whoever is missing from one.
  const colour = (server: string) => COLOURS[servers.indexOf(server) % COLOURS.length]!;
  const h = TOP + Math.max(1, groups.length) * ROW_H + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    "<style>.title{font-size:16px;font-weight:600}.sub{font-size:11px;fill:#555}.row{font-size:13px;font-weight:600}.axis{font-size:11px;fill:#333}.tick{font-size:10px;fill:#444}.note{font-size:12px;fill:#888}.grid{stroke:#ddd;stroke-width:1}</style>",
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
    `<text x="16" y="22" class="title">tickgate benchmark: latency percentiles and throughput per server</text>`,
    `<text x="16" y="38" class="sub">${esc(subtitle)}</text>`,
  ];
  // Legend, top right.
  servers.forEach((s, i) => {
    const x = W - 16 - (servers.length - i) * 110;
    out.push(`<rect x="${x}" y="12" width="12" height="12" fill="${colour(s)}"/><text x="${x + 16}" y="22" class="tick">${esc(s)}</text>`);
  });
  if (groups.length === 0) out.push(`<text x="16" y="${TOP + 30}" class="note">no server comparison in this run</text>`);
  groups.forEach((g, gi) => {
    const y0 = TOP + gi * ROW_H;
    out.push(`<text x="16" y="${y0 + 16}" class="row">${esc(g.title)}</text>`);
    out.push(...latencyPanel(g, y0, colour), ...throughputPanel(g, y0, colour));
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
