/**
 * The server panel (the server's own stats, asked for with a `stats` frame,
 * so it works with or without the demo feeds) and per-topic message rates
 * (counted here, as messages arrive).
 * @module
 */
import type { ServerStats } from "../../client/index.ts";
import { byId, el, fmt, setText } from "./dom.ts";

export class ServerPanel {
  #prev: { at: number; publications: number; deliveries: number } | undefined;

  /**
   * `at`: when the answer arrived. A server that requires tokens answers a
   * connection without `tg.admin` with a short summary: the rest stays "—".
   */
  update(s: ServerStats, at: number): void {
    const uptimeSec = s.server?.uptimeSec ?? s.uptimeSec;
    const full = s.messages !== undefined;
    setText(byId("srv-source"), full ? "this server · stats" : "summary · full stats need an admin token");
    setText(byId("srv-connections"), fmt.int(s.connections));
    setText(byId("srv-cpu"), s.cpu ? `${s.cpu.percent.toFixed(1)} %` : "—");
    setText(byId("srv-rss"), s.memory ? fmt.bytes(s.memory.rss) : "—");
    setText(byId("srv-uptime"), uptimeSec === undefined ? "—" : fmt.duration(uptimeSec));
    if (uptimeSec !== undefined) {
      const started = new Date(at - uptimeSec * 1000);
      setText(byId("srv-started"), `since ${started.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })}`);
    }
    setText(byId("srv-publications"), s.messages ? fmt.int(s.messages.publications) : "—");
    setText(byId("srv-deliveries"), s.messages ? fmt.int(s.messages.deliveries) : "—");
    this.#rates(s.messages, at);

    setText(byId("online"), fmt.int(s.connections));
    const parts = Object.entries(s.sessions).flatMap(([type, n]) => [el("span", "", type), el("b", "", String(n))]);
    byId("sessions").replaceChildren(...parts);
    setText(byId("srv-sessions"), Object.entries(s.sessions).filter(([, n]) => n > 0).map(([t, n]) => `${n} ${t}`).join(" · ") || " ");
  }

  #rates(m: ServerStats["messages"], at: number): void {
    if (!m) {
      this.#prev = undefined;
      return;
    }
    const s = { publications: m.publications, deliveries: m.deliveries };
    const p = this.#prev;
    // A counter going down means a new server process: no rate across that.
    if (p && at > p.at && s.publications >= p.publications) {
      const sec = (at - p.at) / 1000;
      setText(byId("srv-pub-rate"), `${fmt.rate((s.publications - p.publications) / sec)} /s`);
      setText(byId("srv-del-rate"), `${fmt.rate((s.deliveries - p.deliveries) / sec)} /s`);
    }
    this.#prev = { at, publications: s.publications, deliveries: s.deliveries };
  }
}

const WINDOW_MS = 5000;
const SHOWN = 10;

/** Messages per topic per second over the last 5 s, from counts taken as messages arrive. */
export class TopicRates {
  #current = new Map<string, number>();
  #since = Date.now();
  readonly #buckets: { from: number; to: number; counts: Map<string, number> }[] = [];

  constructor(private readonly list: HTMLElement) {}

  count(topic: string): void {
    this.#current.set(topic, (this.#current.get(topic) ?? 0) + 1);
  }

  /** Closes the current bucket and redraws; call about once a second. */
  render(now = Date.now()): void {
    this.#buckets.push({ from: this.#since, to: now, counts: this.#current });
    this.#current = new Map();
    this.#since = now;
    while (this.#buckets.length > 1 && this.#buckets[0]!.to <= now - WINDOW_MS) this.#buckets.shift();
    const sec = (now - this.#buckets[0]!.from) / 1000 || 1;
    const totals = new Map<string, number>();
    for (const b of this.#buckets) for (const [t, n] of b.counts) totals.set(t, (totals.get(t) ?? 0) + n);
    const rows = [...totals].map(([topic, n]) => ({ topic, rate: n / sec })).sort((a, b) => b.rate - a.rate || (a.topic < b.topic ? -1 : 1));
    if (rows.length === 0) return;
    const max = rows[0]!.rate || 1;
    const items = rows.slice(0, SHOWN).map(({ topic, rate }) => {
      const li = el("li");
      li.dataset.topic = topic;
      const bar = el("div", "b");
      const fill = el("i");
      fill.style.width = `${Math.max(2, (rate / max) * 100).toFixed(1)}%`;
      bar.append(fill);
      li.append(el("span", "t", topic), bar, el("span", "n", `${fmt.rate(rate)}/s`));
      li.title = topic;
      return li;
    });
    const rest = rows.length - SHOWN;
    if (rest > 0) {
      const restRate = rows.slice(SHOWN).reduce((a, r) => a + r.rate, 0);
      const li = el("li", "muted");
      li.append(el("span", "t", `+ ${rest} more topics`), el("span"), el("span", "n", `${fmt.rate(restRate)}/s`));
      items.push(li);
    }
    this.list.replaceChildren(...items);
  }
}
