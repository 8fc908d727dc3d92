/**
 * The device fleet table, from `devices.<id>.telemetry` and
 * `devices.<id>.status` (both retained, so a new page fills at once).
 * @module
 */
import type { DeviceStatus, Telemetry } from "../feeds/devices.ts";
import { el, fmt, setText } from "./dom.ts";

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<"status" | "temp" | "humidity" | "battery" | "rssi" | "age" | "why", HTMLTableCellElement>;
  pill: HTMLSpanElement;
  batteryBar: HTMLElement;
  batteryText: HTMLSpanElement;
  /** When the last reading was taken (the device's clock), ms. */
  readingAt: number | undefined;
  state: DeviceStatus["state"] | undefined;
}

/** `devices.<id>.<kind>` → id (ids have no dots). */
export function deviceId(topic: string): string {
  return topic.split(".")[1] ?? topic;
}

export class DeviceTable {
  readonly #rows = new Map<string, Row>();

  constructor(
    private readonly tbody: HTMLElement,
    private readonly summary: HTMLElement,
  ) {}

  telemetry(id: string, t: Telemetry): void {
    const row = this.#row(id);
    const c = row.cells;
    setText(c.temp, `${t.temperature.toFixed(1)} °C`);
    setText(c.humidity, `${t.humidity.toFixed(0)} %`);
    row.batteryBar.style.width = `${Math.max(0, Math.min(100, t.battery))}%`;
    row.batteryBar.className = t.battery < 15 ? "crit" : t.battery < 35 ? "low" : "";
    setText(row.batteryText, `${t.battery.toFixed(0)} %`);
    setText(c.rssi, `${t.rssi} dBm`);
    row.readingAt = t.ts;
    this.#age(row, Date.now());
  }

  status(id: string, s: DeviceStatus): void {
    const row = this.#row(id);
    row.state = s.state;
    row.tr.className = s.state;
    row.pill.className = `pill ${s.state}`;
    setText(row.pill, s.state);
    setText(row.cells.why, s.state === "offline" ? s.reason : "");
    this.#summarize();
  }

  /** Refreshes the "last reading" ages; call about once a second. */
  tick(now = Date.now()): void {
    for (const row of this.#rows.values()) this.#age(row, now);
  }

  #age(row: Row, now: number): void {
    setText(row.cells.age, row.readingAt === undefined ? "—" : fmt.age(now - row.readingAt));
  }

  #summarize(): void {
    let online = 0;
    for (const r of this.#rows.values()) if (r.state === "online") online++;
    const offline = this.#rows.size - online;
    setText(this.summary, `${online} online · ${offline} offline`);
  }

  #row(id: string): Row {
    const existing = this.#rows.get(id);
    if (existing) return existing;
    const tr = el("tr");
    tr.dataset.device = id;
    const cell = (cls = "") => el("td", cls);
    const cells = { status: cell(), temp: cell("r"), humidity: cell("r"), battery: cell(), rssi: cell("r muted"), age: cell("r muted"), why: cell("why muted") };
    const pill = el("span", "pill", "—");
    cells.status.append(pill);
    const bar = el("span", "bar");
    const batteryBar = el("i");
    bar.append(batteryBar);
    const batteryText = el("span", "num", "—");
    cells.battery.append(bar, batteryText);
    tr.append(el("td", "mono", id), cells.status, cells.temp, cells.humidity, cells.battery, cells.rssi, cells.age, cells.why);
    const after = [...this.#rows.keys()].filter((k) => k > id).sort()[0];
    this.tbody.insertBefore(tr, after ? this.#rows.get(after)!.tr : null);
    const row: Row = { tr, cells, pill, batteryBar, batteryText, readingAt: undefined, state: undefined };
    this.#rows.set(id, row);
    return row;
  }
}
