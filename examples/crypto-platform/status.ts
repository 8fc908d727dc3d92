/**
 * `system.status` for the crypto platform (seed 002's monitoring stream),
 * with the fields every client in the seed's integration guide displays,
 * each filled from what this platform really has: its sources and when
 * they last produced, its models' last status, the request calls it
 * answered, and tickgate's own counters. What it does not have is `null`
 * (see the README): there is no database and no connection pool.
 * Costs: one counter bump per answered request; building the status walks
 * 3600 per-second buckets, every 5 s.
 * @module
 */
import type { StatsSnapshot } from "tickgate";
import { SOURCE_CATALOG, type ModelsStatus, type SourceCategory } from "./feeds.ts";

/** How long after its last item a source still counts as active. */
export type ActiveWindows = Record<SourceCategory, number>;

export class StatusBoard {
  readonly #lastSeen = new Map<string, number>();
  // Requests answered, per second over the last hour: a ring indexed by epoch second.
  readonly #perSecond = new Uint32Array(3600);
  readonly #secondOf = new Float64Array(3600);
  #models: ModelsStatus | null = null;

  constructor(readonly windows: ActiveWindows) {}

  /** A source produced something now. */
  seen(source: string, at = Date.now()): void {
    this.#lastSeen.set(source, at);
  }

  /** The models' latest status, as published on `models.status`. */
  set models(m: ModelsStatus) {
    this.#models = m;
  }

  /** One request answered (`market.get_all`, `news.latest`; over the socket or HTTP). */
  request(at = Date.now()): void {
    const sec = Math.floor(at / 1000);
    const i = sec % 3600;
    if (this.#secondOf[i] !== sec) {
      this.#secondOf[i] = sec;
      this.#perSecond[i] = 0;
    }
    this.#perSecond[i]!++;
  }

  #requestsSince(now: number, seconds: number): number {
    const sec = Math.floor(now / 1000);
    let n = 0;
    for (let i = 0; i < 3600; i++) if (this.#secondOf[i]! > sec - seconds) n += this.#perSecond[i]!;
    return n;
  }

  /** The `system.status` payload. `running`: the producers are on. */
  build(st: Pick<StatsSnapshot, "connections" | "sessions" | "messages" | "cpu" | "memory">, running: boolean, now = Date.now()): Record<string, unknown> {
    const sources = Object.entries(SOURCE_CATALOG).flatMap(([category, names]) =>
      names.map((name) => {
        const last = this.#lastSeen.get(name);
        const active = last !== undefined && now - last <= this.windows[category as SourceCategory];
        return { name, category, active, last_seen: last === undefined ? null : new Date(last).toISOString() };
      }),
    );
    const categories = Object.fromEntries(Object.keys(SOURCE_CATALOG).map((c) => [c, { total: sources.filter((s) => s.category === c).length, active: sources.filter((s) => s.category === c && s.active).length }]));
    const active = sources.filter((s) => s.active).length;
    const m = this.#models;
    const requestsLastMinute = this.#requestsSince(now, 60);
    const requestsLastHour = this.#requestsSince(now, 3600);
    return {
      ai_models: m === null ? null : { total: m.total, available: m.available, failed: m.failed, loading: m.loading, models: m.models.map(({ id, status, success_rate }) => ({ id, status, success_rate })) },
      data_sources: { total: sources.length, active, inactive: sources.length - active, categories, pools: null, sources },
      // No database behind this platform: nothing to report, rather than a made-up "online".
      database: null,
      stats: {
        total_sources: sources.length,
        active_sources: active,
        total_models: m?.total ?? null,
        available_models: m?.available ?? null,
        requests_last_minute: requestsLastMinute,
        requests_last_hour: requestsLastHour,
        connections: st.connections,
        sessions: st.sessions,
        messages_in: st.messages.in,
        publications: st.messages.publications,
        deliveries: st.messages.deliveries,
        cpu_percent: st.cpu.percent,
        rss_mb: Math.round(st.memory.rss / 1e6),
      },
      agent_running: running,
    };
  }
}
