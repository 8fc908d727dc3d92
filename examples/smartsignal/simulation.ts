/**
 * SmartSignal's simulated radio network: towers, network stats, KPIs and
 * analytics, as the seed's Python producers made them. Pure data, no I/O;
 * `random` is injectable so a test can make it repeatable.
 * @module
 */

export interface Tower {
  id: string;
  name: string;
  lat: number;
  lon: number;
  /** Connected users. */
  load: number;
  /** Signal quality, dBm. */
  signal: number;
  status: "online" | "degraded" | "offline";
}

export interface Kpi {
  /** % of calls dropped; the alert rule watches this. */
  call_drop_rate: number;
  /** % of calls set up successfully. */
  call_setup_success: number;
  /** Mean throughput, Mbit/s. */
  throughput_mbps: number;
  /** Mean latency, ms. */
  latency_ms: number;
  availability: number;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

export class Network {
  readonly towers: Tower[];
  kpi: Kpi = { call_drop_rate: 1.2, call_setup_success: 98.5, throughput_mbps: 85, latency_ms: 32, availability: 99.9 };
  step = 0;

  constructor(readonly random: () => number = Math.random, towers = 6) {
    this.towers = Array.from({ length: towers }, (_, i) => ({
      id: `T${String(i + 1).padStart(3, "0")}`,
      name: `Tower ${i + 1}`,
      lat: round(24.7 + random() * 0.2, 4),
      lon: round(46.6 + random() * 0.2, 4),
      load: Math.floor(100 + random() * 400),
      signal: round(-70 - random() * 20, 1),
      status: "online",
    }));
  }

  #walk(x: number, spread: number, lo: number, hi: number): number {
    return clamp(x + (this.random() - 0.5) * spread, lo, hi);
  }

  /** One simulation step: loads and signals drift, a tower may degrade. */
  simulate(): { towers: Tower[]; network_stats: Record<string, number>; performance_metrics: Record<string, number>; step: number } {
    this.step++;
    for (const t of this.towers) {
      t.load = Math.round(this.#walk(t.load, 60, 0, 1000));
      t.signal = round(this.#walk(t.signal, 4, -110, -50), 1);
      const r = this.random();
      t.status = r < 0.03 ? "offline" : r < 0.1 ? "degraded" : "online";
    }
    const online = this.towers.filter((t) => t.status !== "offline");
    return {
      step: this.step,
      towers: this.towers.map((t) => ({ ...t })),
      network_stats: {
        towers_total: this.towers.length,
        towers_online: online.length,
        users: this.towers.reduce((n, t) => n + t.load, 0),
      },
      performance_metrics: {
        mean_signal_dbm: round(this.towers.reduce((n, t) => n + t.signal, 0) / this.towers.length, 1),
        mean_load: Math.round(this.towers.reduce((n, t) => n + t.load, 0) / this.towers.length),
      },
    };
  }

  towerData(towerId?: string): Tower[] {
    const list = towerId === undefined ? this.towers : this.towers.filter((t) => t.id === towerId);
    return list.map((t) => ({ ...t }));
  }

  /** KPIs drift; the drop rate now and then spikes past any sane threshold. */
  nextKpi(): Kpi {
    const k = this.kpi;
    const spike = this.random() < 0.08 ? 3 + this.random() * 4 : 0;
    this.kpi = {
      call_drop_rate: round(clamp(this.#walk(k.call_drop_rate, 0.6, 0.2, 3) + spike, 0, 100)),
      call_setup_success: round(this.#walk(k.call_setup_success, 0.8, 90, 100)),
      throughput_mbps: round(this.#walk(k.throughput_mbps, 10, 20, 150), 1),
      latency_ms: Math.round(this.#walk(k.latency_ms, 6, 10, 120)),
      availability: round(this.#walk(k.availability, 0.05, 99, 100), 3),
    };
    return { ...this.kpi };
  }

  analytics(): Record<string, unknown> {
    const byLoad = [...this.towers].sort((a, b) => b.load - a.load);
    return {
      busiest_towers: byLoad.slice(0, 3).map((t) => ({ id: t.id, load: t.load })),
      degraded_towers: this.towers.filter((t) => t.status !== "online").map((t) => t.id),
      forecast: { next_hour_users: Math.round(this.towers.reduce((n, t) => n + t.load, 0) * (1 + (this.random() - 0.4) * 0.2)) },
      anomaly_score: round(this.random(), 3),
    };
  }
}
