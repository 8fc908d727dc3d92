/**
 * Time series as hand-written SVG (no browser, no dependency): one small
 * line chart per series, stacked, with its min and max on the axis, the
 * warm-up shaded and the least-squares line over the judged part drawn in.
 * Used by the soak's report (series.svg).
 * @module
 */

export interface TimeSeries {
  name: string;
  unit: string;
  /** [seconds since start, value] */
  points: [number, number][];
  /** Samples before this time are warm-up, not judged. */
  judgedFrom: number;
  /** The fitted line over the judged part: value at judgedFrom and slope per second. */
  fit?: { at: number; slope: number };
  verdict: string;
}

const W = 960;
const ROW = 150;
const X0 = 90;
const PW = 820;
const PH = 100;
const esc = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

function label(v: number, unit: string): string {
  if (unit === "bytes") return v >= 1 << 20 ? `${(v / (1 << 20)).toFixed(1)} MiB` : `${(v / 1024).toFixed(0)} KiB`;
  return Math.round(v).toLocaleString("en-US");
}

export function seriesSvg(all: TimeSeries[], title: string, subtitle: string): string {
  const h = 76 + all.length * ROW;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
    `<text x="${X0}" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="${X0}" y="40" fill="#555">${esc(subtitle)}</text>`,
    `<text x="${X0}" y="56" fill="#555">shaded: warm-up, not judged; dashed: least-squares fit over the judged part</text>`,
  ];
  all.forEach((s, i) => {
    const top = 76 + i * ROW + 24;
    const tMax = Math.max(1, ...s.points.map((p) => p[0]));
    const vs = s.points.map((p) => p[1]);
    let lo = Math.min(...vs, 0);
    let hi = Math.max(...vs, 1);
    if (hi === lo) hi = lo + 1;
    lo = Math.max(0, lo);
    const x = (t: number) => X0 + (t / tMax) * PW;
    const y = (v: number) => top + PH - ((v - lo) / (hi - lo)) * PH;
    out.push(`<text x="${X0}" y="${top - 8}" font-weight="bold">${esc(s.name)}</text><text x="${X0 + PW}" y="${top - 8}" text-anchor="end" fill="#555">${esc(s.verdict)}</text>`);
    out.push(`<rect x="${X0}" y="${top}" width="${(x(s.judgedFrom) - X0).toFixed(1)}" height="${PH}" fill="#f0f0f0"/>`);
    out.push(`<rect x="${X0}" y="${top}" width="${PW}" height="${PH}" fill="none" stroke="#999"/>`);
    out.push(`<text x="${X0 - 6}" y="${top + 10}" text-anchor="end" fill="#555">${esc(label(hi, s.unit))}</text><text x="${X0 - 6}" y="${top + PH}" text-anchor="end" fill="#555">${esc(label(lo, s.unit))}</text>`);
    if (s.points.length > 0) out.push(`<polyline fill="none" stroke="#0072B2" stroke-width="1.5" points="${s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ")}"/>`);
    if (s.fit) {
      const t1 = tMax;
      out.push(`<line x1="${x(s.judgedFrom).toFixed(1)}" y1="${y(s.fit.at).toFixed(1)}" x2="${x(t1).toFixed(1)}" y2="${y(s.fit.at + s.fit.slope * (t1 - s.judgedFrom)).toFixed(1)}" stroke="#D55E00" stroke-dasharray="4 3"/>`);
    }
    out.push(`<text x="${X0 + PW}" y="${top + PH + 14}" text-anchor="end" fill="#555">${Math.round(tMax)} s</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
