/**
 * `GET /metrics`: Prometheus text exposition, built with prom-client.
 *
 * Every value is read at scrape time from counters the core keeps anyway
 * (`server.stats()`, `broker.topics`, the channel index, the slow-consumer
 * guard, the latency ring). Nothing here runs per publication or per
 * delivery: a scrape costs one pass over the topics and one over the
 * channels.
 *
 * Names follow the Prometheus naming guide: the unit before `_total`
 * (`tickgate_received_bytes_total`), one metric per fact (no second total
 * beside a labelled one), snake_case label values.
 *
 * Each server gets its own registry (several servers share a process in
 * tests). Process-wide facts (CPU, memory, event-loop lag) live in one
 * registry per process, because there is one process and one event loop
 * however many servers it runs; a scrape concatenates both. This module is
 * loaded by the first scrape (see routes.ts), so a server nobody scrapes
 * never holds prom-client; process CPU is counted from the process's start
 * either way, and event-loop lag from the first scrape on.
 * @module
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Channel } from "../core/channel.ts";
import type { TickgateServerImpl as TickgateServer } from "../core/server.ts";

/** The runtime and its real version: Bun reports a Node version it is compatible with, not its own. */
export function runtimeInfo(): { runtime: "bun" | "node"; runtime_version: string } {
  const bun = (process.versions as Record<string, string | undefined>).bun;
  return bun ? { runtime: "bun", runtime_version: bun } : { runtime: "node", runtime_version: process.versions.node };
}

/** `refusedOrigin` → `refused_origin`: label values in snake_case. */
export function snakeCase(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Most topic classes that get their own label value; the rest share {@link OTHER}. */
export const MAX_CLASSES = 50;
export const OTHER = "other";

function* chain<T>(...its: Iterable<T>[]): Iterable<T> {
  for (const it of its) yield* it;
}

/** A topic's (or pattern's) class: its first dot-separated token, e.g. `prices`. */
export function topicClass(name: string): string {
  const i = name.indexOf(".");
  return i < 0 ? name : name.slice(0, i);
}

/**
 * Hands out class label values, at most `cap` of them. A class keeps the
 * label it got first, for the life of the server: if a class could move
 * between its own series and `other`, both counters would jump, which a
 * Prometheus `rate()` reads as a reset. So `other` only ever gains classes.
 */
export class ClassLabels {
  readonly #own = new Set<string>();
  readonly #other = new Set<string>();

  constructor(readonly cap = MAX_CLASSES) {}

  /** Gives labels to classes not seen before, busiest first (by `weight`). */
  admit(classes: Iterable<string>, weight: (cls: string) => number = () => 0): void {
    const fresh = [...classes].filter((c) => !this.#own.has(c) && !this.#other.has(c));
    fresh.sort((a, b) => weight(b) - weight(a));
    for (const c of fresh) (this.#own.size < this.cap ? this.#own : this.#other).add(c);
  }

  label(cls: string): string {
    if (this.#own.has(cls)) return cls;
    if (!this.#other.has(cls)) this.admit([cls]);
    return this.#own.has(cls) ? cls : OTHER;
  }
}

/**
 * A Counter fed with running totals. prom-client counters only go up by
 * `inc(delta)`; the core's totals are monotonic, so the delta since the
 * last scrape is what the counter gains.
 */
class TotalCounter<L extends string> {
  readonly #last = new Map<string, number>();
  constructor(readonly counter: Counter<L>) {}

  set(total: number, labels?: Record<L, string>): void {
    const k = labels ? JSON.stringify(labels) : "";
    const last = this.#last.get(k);
    const delta = total - (last ?? 0);
    // Totals never go down; a new label set is shown from its first scrape, even at 0.
    if (delta < 0 || (delta === 0 && last !== undefined)) return;
    this.#last.set(k, total);
    if (labels) this.counter.inc(labels, delta);
    else this.counter.inc(delta);
  }
}

/** Per class: what `broker.topics` holds, summed at scrape time. */
interface ClassTotals {
  publications: number;
  deliveries: number;
  bytesIn: number;
}

/** Latency buckets, in seconds: local fan-out takes microseconds; a stalled loop, up to a second. */
const LATENCY_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export class ServerMetrics {
  readonly registry = new Registry();
  readonly classes = new ClassLabels();
  /** Where the latency ring was read up to. */
  #latencyFrom = 0;

  readonly #g;
  readonly #c;
  readonly #latency: Histogram;

  constructor(readonly server: TickgateServer) {
    const registers = [this.registry];
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new TotalCounter(new Counter<L>({ name, help, labelNames, registers }));
    this.#g = {
      info: gauge("tickgate_info", "Always 1; the labels name the build, the sequence epoch, and the runtime with its version.", ["version", "epoch", "runtime", "runtime_version"]),
      connections: gauge("tickgate_connections", "Open connections (WebSocket and SSE)."),
      sessions: gauge("tickgate_sessions", "Open connections by client type.", ["client"]),
      subscriptions: gauge("tickgate_subscriptions", "Subscriptions held, over all connections."),
      subscribers: gauge("tickgate_subscribers", "Subscriptions held, by topic class (patterns count under their first token).", ["class"]),
      topics: gauge("tickgate_topics", "Topics the server holds (published to, and not evicted since)."),
      channels: gauge("tickgate_channels", "Subscription keys (exact topics and patterns) with at least one subscriber."),
      lagging: gauge("tickgate_slow_consumer_lagging_sessions", "Connections currently taken off a channel for falling behind."),
      devicesOnline: gauge("tickgate_devices_online", "Device connections with a known device id."),
    };
    this.#c = {
      messagesIn: counter("tickgate_received_messages_total", "Frames received from clients."),
      bytesIn: counter("tickgate_received_bytes_total", "Bytes of frames received from clients."),
      bytesOut: counter("tickgate_sent_bytes_total", "Bytes of publication frames handed to the fan-out (all classes)."),
      publications: counter("tickgate_publications_total", "Publications, by topic class.", ["class"]),
      deliveries: counter("tickgate_deliveries_total", "Publications delivered to subscribers, by topic class.", ["class"]),
      payloadBytesIn: counter("tickgate_published_payload_bytes_total", "Payload bytes published (msgpack size), by topic class.", ["class"]),
      dropped: counter("tickgate_slow_consumer_dropped_total", "Publications not delivered to lagging subscribers (policy drop), all classes."),
      conflated: counter("tickgate_slow_consumer_conflated_total", "Publications conflated away for lagging subscribers, all classes."),
      lagEvents: counter("tickgate_slow_consumer_lag_events_total", "Times a subscriber was taken off a channel for passing its policy's limitBytes (backpressure)."),
      disconnects: counter("tickgate_slow_consumer_disconnects_total", "Subscribers closed (4008) for falling behind under policy disconnect."),
      nativeLimitNear: counter("tickgate_slow_consumer_native_limit_near_total", "Sweeps that found a socket within 10% of the native backpressure limit."),
      security: counter("tickgate_security_events_total", "Refused or ended connections and actions (origin, limits, auth, expiry, forbidden, rate limits), by kind.", ["kind"]),
      topicsEvicted: counter("tickgate_topics_evicted_total", "Topics evicted as idle (no subscriber, no retained value or history left)."),
      topicRefusals: counter("tickgate_topic_refusals_total", "Topic creations refused: by a caller's share (reason quota, TOPIC_QUOTA) or by maxTopics (reason max_topics).", ["reason"]),
      encodes: counter("tickgate_encoded_frames_total", "Publication frames encoded, by encoding (once per publication and encoding in use).", ["encoding"]),
    };
    this.#latency = new Histogram({
      name: "tickgate_publish_to_send_seconds",
      help: "Time from a publication's arrival to the end of its native fan-out; sampled (one publication in broker.latency.every).",
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  /** Reads the core's counters into the metrics. */
  refresh(): void {
    const srv = this.server;
    const broker = srv.broker;
    // stats(0) skips the top-topics list; it is the only public view of the connection counters.
    const s = srv.stats(0);
    const g = this.#g;
    g.info.set({ version: s.server.version, epoch: s.server.epoch, ...runtimeInfo() }, 1);
    g.connections.set(s.connections);
    for (const [client, n] of Object.entries(s.sessions)) g.sessions.set({ client }, n);
    g.subscriptions.set(s.subscriptions);
    g.topics.set(s.topics);
    g.channels.set(s.channels);
    g.lagging.set(s.slowConsumers.lagging);

    const c = this.#c;
    c.messagesIn.set(s.messages.in);
    c.bytesIn.set(s.bytes.in);
    c.bytesOut.set(s.bytes.out);
    c.dropped.set(s.slowConsumers.dropped);
    c.conflated.set(s.slowConsumers.conflated);
    c.lagEvents.set(s.slowConsumers.lagEvents);
    c.disconnects.set(s.slowConsumers.disconnects);
    c.nativeLimitNear.set(s.slowConsumers.nativeLimitNear);
    c.encodes.set(s.encodes.msgpack, { encoding: "msgpack" });
    c.encodes.set(s.encodes.json, { encoding: "json" });
    // Present once the server has device and auth support.
    if (s.devicesOnline !== undefined) g.devicesOnline.set(s.devicesOnline);
    for (const [kind, n] of Object.entries(s.security ?? {})) c.security.set(n, { kind: snakeCase(kind) });

    const life = broker.lifecycle.counters;
    c.topicsEvicted.set(life.evicted);
    c.topicRefusals.set(life.quotaRefused, { reason: "quota" });
    c.topicRefusals.set(life.maxTopicsRefused, { reason: "max_topics" });
    this.#refreshTopics(chain(broker.topics.values(), broker.retired.values()));
    this.#refreshChannels(broker.index.values());

    const { samples, next } = broker.latency.since(this.#latencyFrom);
    this.#latencyFrom = next;
    for (const ms of samples) this.#latency.observe(ms / 1000);
  }

  /** Evicted topics' counts live on in `broker.retired` (per first token), so per-class sums only grow. */
  #refreshTopics(topics: Iterable<{ name: string; published: number; deliveries: number; bytesIn: number }>): void {
    const byClass = new Map<string, ClassTotals>();
    for (const t of topics) {
      const cls = topicClass(t.name);
      let a = byClass.get(cls);
      if (!a) byClass.set(cls, (a = { publications: 0, deliveries: 0, bytesIn: 0 }));
      a.publications += t.published;
      a.deliveries += t.deliveries;
      a.bytesIn += t.bytesIn;
    }
    this.classes.admit(byClass.keys(), (cls) => byClass.get(cls)!.publications);
    const byLabel = new Map<string, ClassTotals>();
    for (const [cls, a] of byClass) {
      const label = this.classes.label(cls);
      const b = byLabel.get(label);
      if (!b) byLabel.set(label, { ...a });
      else {
        b.publications += a.publications;
        b.deliveries += a.deliveries;
        b.bytesIn += a.bytesIn;
      }
    }
    const c = this.#c;
    for (const [label, a] of byLabel) {
      c.publications.set(a.publications, { class: label });
      c.deliveries.set(a.deliveries, { class: label });
      c.payloadBytesIn.set(a.bytesIn, { class: label });
    }
  }

  /**
   * Subscribers per class. Drops and conflations are not split by class:
   * channels are released with their counts when their last subscriber
   * leaves, so a per-class sum would miss some; the `tickgate_slow_consumer_*`
   * totals are exact.
   */
  #refreshChannels(channels: Iterable<Channel>): void {
    const subscribers = new Map<string, number>();
    for (const ch of channels) {
      const label = this.classes.label(topicClass(ch.base));
      subscribers.set(label, (subscribers.get(label) ?? 0) + ch.members.size);
    }
    // Classes with no subscribers left read 0 rather than their last value.
    this.#g.subscribers.reset();
    for (const [label, n] of subscribers) this.#g.subscribers.set({ class: label }, n);
  }

  async render(): Promise<string> {
    this.refresh();
    return (await this.registry.metrics()) + (await processRegistry().metrics());
  }
}

// ---- process-wide metrics ----

let processReg: Registry | undefined;

/**
 * prom-client's default metrics (process CPU and memory, heap, GC, event
 * loop lag), in one registry per process, created when this module loads
 * (the first scrape).
 * Under Bun 1.4 `perf_hooks.monitorEventLoopDelay` works, so prom-client's
 * `nodejs_eventloop_lag_*` gauges are real; where it is missing prom-client
 * skips them silently, and a timer-drift sampler stands in.
 */
/** @internal exported for tests */
export function processRegistry(): Registry {
  if (processReg) return processReg;
  processReg = new Registry();
  const before = process.cpuUsage();
  collectDefaultMetrics({ register: processReg });
  // prom-client counts CPU from its own start, which is the first scrape: the time before it belongs to the process too.
  const cpu: [string, number][] = [["process_cpu_user_seconds_total", before.user], ["process_cpu_system_seconds_total", before.system], ["process_cpu_seconds_total", before.user + before.system]];
  for (const [name, us] of cpu) (processReg.getSingleMetric(name) as Counter | undefined)?.inc(us / 1e6);
  if (!processReg.getSingleMetric("nodejs_eventloop_lag_seconds")) driftLagGauge(processReg);
  else keepLagOverEmptyWindows(processReg);
  // Under Bun this would carry the Node version Bun is compatible with, not a real one; tickgate_info names the runtime.
  if (runtimeInfo().runtime !== "node") processReg.removeSingleMetric("nodejs_version_info");
  return processReg;
}

const LAG_GAUGES = ["min", "max", "mean", "stddev", "p50", "p90", "p99"].map((s) => `nodejs_eventloop_lag_${s}_seconds`);
/** An empty delay histogram's min is 2^63 ns, which prom-client reports as a lag of 9.2e9 s. */
const EMPTY_WINDOW_S = 9e9;

/**
 * prom-client reads the delay histogram and resets it at every scrape; two
 * scrapes within one sampling interval (10 ms) find it empty (min 2^63 ns,
 * mean NaN). Then the gauges keep the previous window's values. prom-client
 * sets `min` first in each window, so its value says whether to take the rest.
 */
function keepLagOverEmptyWindows(register: Registry): void {
  const parts = LAG_GAUGES.map((n) => register.getSingleMetric(n) as Gauge | undefined);
  if (parts.some((g) => g === undefined)) return;
  let empty = false;
  parts.forEach((g, i) => {
    const set = g!.set.bind(g!) as (...args: unknown[]) => void;
    g!.set = ((...args: unknown[]) => {
      const v = args[args.length - 1];
      if (i === 0) empty = typeof v === "number" && v >= EMPTY_WINDOW_S;
      if (!empty) set(...args);
    }) as Gauge["set"];
  });
}

/** Worst timer overshoot since the previous scrape, as `nodejs_eventloop_lag_seconds`. */
function driftLagGauge(register: Registry, everyMs = 100): void {
  let expected = performance.now() + everyMs;
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - expected);
    expected = now + everyMs;
  }, everyMs);
  // A metrics sampler must never keep the process alive.
  (timer as { unref?: () => void }).unref?.();
  new Gauge({
    name: "nodejs_eventloop_lag_seconds",
    help: "Largest event-loop delay since the previous scrape, measured by timer drift.",
    registers: [register],
    collect() {
      this.set(Math.max(0, worst) / 1000);
      worst = 0;
    },
  });
}

processRegistry();

// ---- the route ----

const perServer = new WeakMap<TickgateServer, ServerMetrics>();

/** The metrics of one server, created on its first scrape. */
export function metricsFor(server: TickgateServer): ServerMetrics {
  let m = perServer.get(server);
  if (!m) perServer.set(server, (m = new ServerMetrics(server)));
  return m;
}

export async function handleMetrics(server: TickgateServer): Promise<Response> {
  const body = await metricsFor(server).render();
  return new Response(body, { headers: { "content-type": Registry.PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" } });
}
