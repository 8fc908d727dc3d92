/**
 * The price table: one row per symbol from `prices.*`, the last price
 * flashing on every change, and a sparkline of recent ticks.
 * @module
 */
import type { Tick } from "../feeds/market.ts";
import { el, flash, fmt, setText } from "./dom.ts";

const SPARK_POINTS = 48;
const W = 120;
const H = 26;
const SVG = "http://www.w3.org/2000/svg";

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<"last" | "bid" | "ask" | "change" | "volume" | "ticks", HTMLTableCellElement>;
  /** The last price's text, inside its cell: what flashes. */
  price: HTMLSpanElement;
  svg: SVGSVGElement;
  line: SVGPolylineElement;
  area: SVGPolygonElement;
  history: number[];
  last: number | undefined;
  ticks: number;
}

export class PriceTable {
  readonly #rows = new Map<string, Row>();

  constructor(private readonly tbody: HTMLElement) {}

  update(t: Tick): void {
    const row = this.#rows.get(t.symbol) ?? this.#add(t.symbol);
    const prev = row.last;
    row.last = t.last;
    row.ticks++;
    row.history.push(t.last);
    if (row.history.length > SPARK_POINTS) row.history.shift();
    const c = row.cells;
    setText(row.price, fmt.price(t.last));
    setText(c.bid, fmt.price(t.bid));
    setText(c.ask, fmt.price(t.ask));
    setText(c.change, fmt.pct(t.change24h));
    c.change.className = `r ${t.change24h >= 0 ? "up" : "down"}`;
    setText(c.volume, fmt.compact(t.volume));
    setText(c.ticks, fmt.int(row.ticks));
    if (prev !== undefined && prev !== t.last) {
      const up = t.last > prev;
      c.last.className = `r last ${up ? "up" : "down"}`;
      flash(row.price, up);
    }
    this.#draw(row);
  }

  #add(symbol: string): Row {
    const tr = el("tr");
    tr.dataset.symbol = symbol;
    const [base, quote] = symbol.split("-");
    const name = el("td", "sym", base ?? symbol);
    if (quote) name.append(el("small", "", quote));
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("class", "spark up");
    const area = document.createElementNS(SVG, "polygon");
    const line = document.createElementNS(SVG, "polyline");
    svg.append(area, line);
    const spark = el("td");
    spark.append(svg);
    const cell = (cls: string) => el("td", cls);
    const cells = { last: cell("r last"), bid: cell("r muted mono"), ask: cell("r muted mono"), change: cell("r"), volume: cell("r muted"), ticks: cell("r muted") };
    const price = el("span");
    cells.last.append(price);
    tr.append(name, spark, cells.last, cells.bid, cells.ask, cells.change, cells.volume, cells.ticks);
    // Keep rows sorted by symbol, whatever order the retained values arrive in.
    const after = [...this.#rows.keys()].filter((s) => s > symbol).sort()[0];
    this.tbody.insertBefore(tr, after ? this.#rows.get(after)!.tr : null);
    const row: Row = { tr, cells, price, svg, line, area, history: [], last: undefined, ticks: 0 };
    this.#rows.set(symbol, row);
    return row;
  }

  #draw(row: Row): void {
    const h = row.history;
    if (h.length < 2) return;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of h) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const span = hi - lo || 1;
    // Stretched over the full width until the history is full, then scrolling.
    const step = W / (h.length - 1);
    const pts = h.map((v, i) => `${(i * step).toFixed(1)},${(2 + (H - 4) * (1 - (v - lo) / span)).toFixed(1)}`);
    row.line.setAttribute("points", pts.join(" "));
    row.area.setAttribute("points", `0,${H} ${pts.join(" ")} ${W},${H}`);
    row.svg.setAttribute("class", `spark ${h[h.length - 1]! >= h[0]! ? "up" : "down"}`);
  }
}
