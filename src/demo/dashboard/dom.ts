/**
 * Small DOM and formatting helpers for the dashboard.
 * @module
 */

/** The element with this id; the page template guarantees it exists. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`dashboard: #${id} is missing from the page`);
  return e as T;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

/** Sets text only when it changed (cheap to call on every tick). */
export function setText(e: Element, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

/** Briefly tints an element green (up) or red (down). */
export function flash(e: HTMLElement, up: boolean): void {
  const from = up ? "rgba(63,185,80,.25)" : "rgba(240,82,79,.25)";
  e.animate?.([{ backgroundColor: from }, { backgroundColor: "rgba(0,0,0,0)" }], { duration: 450, easing: "ease-out" });
}

const intFmt = new Intl.NumberFormat("en-US");
const compactFmt = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

export const fmt = {
  /** Enough decimals for the price's size: 64,012.35, 3.142, 0.5213. */
  price: (n: number) => n.toLocaleString("en-US", { minimumFractionDigits: n >= 100 ? 2 : n >= 1 ? 3 : 4, maximumFractionDigits: n >= 100 ? 2 : n >= 1 ? 3 : 4 }),
  pct: (n: number) => `${n > 0 ? "+" : n < 0 ? "−" : ""}${Math.abs(n).toFixed(2)}%`,
  int: (n: number) => intFmt.format(Math.round(n)),
  compact: (n: number) => compactFmt.format(n),
  rate: (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1)),
  bytes: (n: number) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : `${(n / (1 << 20)).toFixed(1)} MiB`),
  duration(sec: number): string {
    const s = Math.floor(sec);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
  },
  age(ms: number): string {
    const s = Math.max(0, ms) / 1000;
    return s < 10 ? `${s.toFixed(1)} s ago` : s < 120 ? `${Math.round(s)} s ago` : `${Math.round(s / 60)} min ago`;
  },
};
