/**
 * The stats snapshot served as a `stats` frame and at `GET /stats`. Built
 * on demand from counters the hot path already keeps; nothing here runs per
 * delivery.
 * @module
 */
import { CLIENT_TYPES, type ClientType } from "../protocol/frames.ts";
import type { Broker } from "./broker.ts";
import type { ClusterView } from "./cluster.ts";
import type { SlowConsumerGuard } from "./slow-consumers.ts";

export interface TopicStats {
  topic: string;
  subscribers: number;
  published: number;
  dropped: number;
  conflated: number;
  /** A filtered subscription to `topic` (each distinct filter is listed on its own). */
  filtered?: boolean;
}

export interface StatsSnapshot {
  server: { name: "tickgate"; version: string; uptimeSec: number; startedAt: number; epoch: string };
  connections: number;
  sessions: Record<ClientType, number>;
  subscriptions: number;
  topics: number;
  channels: number;
  messages: { in: number; publications: number; deliveries: number };
  bytes: { in: number; out: number };
  slowConsumers: { lagging: number; lagEvents: number; disconnects: number; dropped: number; conflated: number; nativeLimitNear: number };
  encodes: { msgpack: number; json: number };
  cpu: { percent: number; userMs: number; systemMs: number };
  memory: { rss: number; heapUsed: number };
  /** Busiest subscriptions (exact topics and patterns) by subscriber count. */
  topTopics: TopicStats[];
  /** Device connections with a known device id. */
  devicesOnline?: number;
  /** In a cluster: every node heard from recently, with its own figures, and their sums. */
  cluster?: ClusterView;
  /** Refusals: origins, connection limits, auth failures and timeouts, expiries, forbidden actions, rate limits. */
  security?: Record<string, number>;
}

export class ConnectionCounters {
  connections = 0;
  messagesIn = 0;
  bytesIn = 0;
  readonly byClient: Record<ClientType, number> = Object.fromEntries(CLIENT_TYPES.map((c) => [c, 0])) as Record<ClientType, number>;
}

/**
 * What the runtime tells about the process, for `cpu` and `memory`. The
 * adapter supplies it (Bun and Node: `process`); the core reads no global.
 */
export interface ProcessProbe {
  cpuUsage(): { user: number; system: number };
  memoryUsage(): { rss: number; heapUsed: number };
}

/** For a runtime that tells nothing: zeros. */
export const NO_PROBE: ProcessProbe = { cpuUsage: () => ({ user: 0, system: 0 }), memoryUsage: () => ({ rss: 0, heapUsed: 0 }) };

export class StatsCollector {
  readonly startedAt = Date.now();
  #lastCpu: { user: number; system: number };
  #lastAt = performance.now();
  #percent = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly version: string,
    readonly epoch: string,
    readonly broker: Broker,
    readonly guard: SlowConsumerGuard,
    readonly conns: ConnectionCounters,
    readonly probe: ProcessProbe = NO_PROBE,
  ) {
    this.#lastCpu = probe.cpuUsage();
  }

  /**
   * Samples CPU every `ms` on its own timer, so reading stats (the frame,
   * `/stats`, `/metrics`) never moves the window another reader sees.
   */
  start(ms = 2000): void {
    this.#timer = setInterval(() => this.#sample(), ms);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sample(): void {
    const now = performance.now();
    const cpu = this.probe.cpuUsage();
    const used = cpu.user - this.#lastCpu.user + (cpu.system - this.#lastCpu.system);
    const wall = (now - this.#lastAt) * 1000;
    this.#lastCpu = cpu;
    this.#lastAt = now;
    if (wall > 0) this.#percent = Math.round((used / wall) * 1000) / 10;
  }

  /** CPU share of one core over the last sampling window, in percent. */
  #cpuPercent(): { percent: number; userMs: number; systemMs: number } {
    const cpu = this.probe.cpuUsage();
    return { percent: this.#percent, userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000) };
  }

  snapshot(top = 50): StatsSnapshot {
    const b = this.broker;
    let subscriptions = 0;
    const chans: TopicStats[] = [];
    for (const ch of b.index.values()) {
      subscriptions += ch.members.size;
      const entry: TopicStats = { topic: ch.base, subscribers: ch.members.size, published: ch.published, dropped: ch.dropped, conflated: ch.conflated };
      if (ch.filter !== null) entry.filtered = true;
      chans.push(entry);
    }
    chans.sort((x, y) => y.subscribers - x.subscribers || y.published - x.published);
    const mem = this.probe.memoryUsage();
    const g = this.guard.counters;
    return {
      server: { name: "tickgate", version: this.version, uptimeSec: Math.round((Date.now() - this.startedAt) / 1000), startedAt: this.startedAt, epoch: this.epoch },
      connections: this.conns.connections,
      sessions: { ...this.conns.byClient },
      subscriptions,
      topics: b.topics.size,
      channels: b.index.size,
      messages: { in: this.conns.messagesIn, publications: b.counters.publications, deliveries: b.counters.deliveries },
      bytes: { in: this.conns.bytesIn, out: b.counters.bytesOut },
      slowConsumers: { lagging: this.guard.laggingSessions, ...g },
      encodes: { ...b.encodes },
      cpu: this.#cpuPercent(),
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
      topTopics: chans.slice(0, top),
    };
  }
}
