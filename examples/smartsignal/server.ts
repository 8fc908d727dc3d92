/**
 * SmartSignal AI (seed 000) on tickgate: four server-side streams on their
 * own periods, alerts on demand, `request_data`, server stats, and a welcome
 * frame that tells a client what it can subscribe to and ask for.
 *
 * Started by main.ts (`npm run example:smartsignal`); tests call {@link start}.
 * @module
 */
import { totalmem } from "node:os";
import { TickgateError, type Logger, type TickgateServer } from "tickgate";
import { createServer } from "tickgate/bun";
import { smartsignal000 } from "tickgate/legacy";
import { z } from "zod";
import { Network } from "./simulation.ts";

/** The periodic streams and their periods in the seed's config (ms). */
export const STREAMS = ["simulation", "tower_data", "analytics", "kpi"] as const;
export type Stream = (typeof STREAMS)[number];
export const SEED_PERIODS: Record<Stream, number> = { simulation: 15_000, tower_data: 20_000, analytics: 35_000, kpi: 25_000 };
/** Published on demand: a KPI crossing its threshold, or a `raise_alert` request. */
export const ALERTS = "alerts";
export const TOPICS = [...STREAMS, ALERTS];
/** What `request_data` answers. */
export const DATA_TYPES = ["simulation", "tower_data", "analytics", "kpi", "alerts"] as const;

/** `raise_alert`'s input: checked by the server before the handler runs (INVALID_FRAME naming the field). */
export const RaiseAlert = z.object({
  message: z.string().min(1).max(500),
  severity: z.enum(["info", "warning", "critical"]).default("warning"),
  tower_id: z.string().max(32).optional(),
});

/** `request_data`'s input. An unknown `data_type` is the application's own code, so it is a plain string here. */
export const RequestData = z.object({
  data_type: z.string().max(64),
  params: z.object({ tower_id: z.string().max(32).optional(), limit: z.number().int().min(1).max(50).optional() }).default({}),
});

export interface Alert {
  id: number;
  severity: "info" | "warning" | "critical";
  message: string;
  source: "kpi" | "operator";
  tower_id?: string;
  value?: number;
  threshold?: number;
  raised_at: string;
}

export interface SmartSignalOptions {
  port?: number;
  host?: string;
  /** Period of each stream in ms; defaults to {@link SEED_PERIODS}. */
  periods?: Partial<Record<Stream, number>>;
  /** Raise an alert when `call_drop_rate` (%) rises above this. Default 5. */
  alertThreshold?: number;
  /** Where the event log goes (default: console.log). */
  print?: (line: string) => void;
  random?: () => number;
  /**
   * Where clients of the old server connect, speaking its frames (default
   * `/`, as the seed served `ws://host:8765`); `false` turns it off. New
   * clients use `/ws`. See docs/migrating/smartsignal.md.
   */
  legacyPath?: string | false;
}

export interface SmartSignal {
  server: TickgateServer;
  port: number;
  wsUrl: string;
  /** Where the old protocol's clients connect (undefined when turned off). */
  legacyUrl: string | undefined;
  /** Recent alerts, newest last (at most 50). */
  alerts: Alert[];
  /** Stops the producers and closes the server (every connection gets 1001). Idempotent. */
  stop(): Promise<void>;
}

const iso = (ms = Date.now()) => new Date(ms).toISOString();

/** Warnings and errors of the server (refusals, slow consumers, abuse), printed. */
function problems(print: (line: string) => void): Logger {
  const quiet = () => {};
  return {
    debug: quiet,
    info: quiet,
    warn: (f, msg) => print(`⚠️ ${msg} ${JSON.stringify(f)}`),
    error: (f, msg) => print(`❌ ${msg} ${JSON.stringify(f)}`),
  };
}

export async function start(opts: SmartSignalOptions = {}): Promise<SmartSignal> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const periods = { ...SEED_PERIODS, ...opts.periods };
  const threshold = opts.alertThreshold ?? 5;
  const net = new Network(opts.random);
  const alerts: Alert[] = [];
  let alertIds = 0;

  const server = createServer(
    {
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? 8765,
      // The seed pinged every 30 s and gave up 10 s later; tickgate pings 16 s
      // before this deadline and drops a peer that has not answered by then.
      idleTimeoutSec: 40,
      shutdownGraceMs: 1000,
      // Listed in the welcome frame: what a client can subscribe to.
      topics: TOPICS,
      policies: [
        // Alerts are events: kept for recovery, not retained as a "current value".
        { match: ALERTS, publish: "server", historySize: 200 },
        // Streams are state: a new subscriber gets the latest value at once.
        ...STREAMS.map((t) => ({ match: t, publish: "server" as const, retain: true, historySize: 20 })),
      ],
    },
    { log: problems(print) },
  );

  // The seed's event log: connect, and who left abnormally.
  server.on("open", (c) => print(`🔗 client connected: ${c.session} from ${c.remoteAddress} (${c.client})`));
  server.on("close", (c) => print(`${c.code === 1000 || c.code === 1001 ? "🔌 client left" : "⚠️ abnormal disconnect"}: ${c.session} (code ${c.code})`));

  /** The seed's `broadcast_time` and `active_connections` on every update. */
  const stamped = (data: Record<string, unknown>) => ({ ...data, broadcast_time: iso(), active_connections: server.connections });
  /** The seed's "broadcast to N clients" line: how many subscriptions the publication reached. */
  const fanOut = (topic: string, seq?: number) => print(`📡 ${topic}${seq === undefined ? "" : ` #${seq}`} → ${server.subscribers(topic)} subscriber(s)`);

  /** For the timers: never throws (a refusal, e.g. while closing, is logged by the server). */
  const broadcast = (topic: string, data: Record<string, unknown>): void => {
    if (server.tryPublish(topic, stamped(data))) fanOut(topic);
  };

  /** Alerts go out with publish(): a request that raises one gets its seq, or the error. */
  const raise = async (a: Omit<Alert, "id" | "raised_at">): Promise<{ alert: Alert; seq: number }> => {
    const alert: Alert = { id: ++alertIds, raised_at: iso(), ...a };
    alerts.push(alert);
    if (alerts.length > 50) alerts.shift();
    const seq = await server.publish(ALERTS, stamped({ ...alert }));
    fanOut(ALERTS, seq);
    return { alert, seq };
  };

  let kpiHigh = false;
  const produce: Record<Stream, () => Record<string, unknown>> = {
    simulation: () => net.simulate(),
    tower_data: () => ({ towers: net.towerData() }),
    analytics: () => net.analytics(),
    kpi: () => {
      const kpi = net.nextKpi();
      // Alert on the rising edge only, so a long spike is one alert.
      const high = kpi.call_drop_rate > threshold;
      if (high && !kpiHigh) {
        // After the KPI itself; a refusal (the server closing) is only logged.
        queueMicrotask(() =>
          raise({ severity: "critical", source: "kpi", message: `call drop rate ${kpi.call_drop_rate}% is above ${threshold}%`, value: kpi.call_drop_rate, threshold }).catch((e) =>
            server.log.warn({ event: "alert_failed", err: String(e) }, "alert not published"),
          ),
        );
      }
      kpiHigh = high;
      return { ...kpi };
    },
  };

  server.handle(
    "request_data",
    ({ data_type, params }) => {
      switch (data_type) {
        case "simulation":
          return { data_type, data: net.simulate() };
        case "tower_data":
          return { data_type, data: { towers: net.towerData(params.tower_id) } };
        case "analytics":
          return { data_type, data: net.analytics() };
        case "kpi":
          return { data_type, data: { ...net.kpi } };
        case "alerts":
          return { data_type, data: { alerts: alerts.slice(-(params.limit ?? 10)) } };
        default:
          // An application's own code: the client gets it as-is, with the details.
          throw new TickgateError("UNKNOWN_DATA_TYPE", `unknown data_type '${data_type}'`, { details: { data_type, available: [...DATA_TYPES] } });
      }
    },
    { schema: RequestData },
  );

  server.handle("get_server_stats", () => {
    const s = server.stats(0);
    const sent = s.messages.deliveries;
    return {
      stats: { active_connections: server.connections, messages_sent: sent, messages_received: s.messages.in, uptime_seconds: s.server.uptimeSec },
      performance: {
        cpu_percent: s.cpu.percent,
        memory_percent: Math.round((s.memory.rss / totalmem()) * 1000) / 10,
        active_connections: s.connections,
        total_messages: sent + s.messages.in,
      },
      sessions: s.sessions,
    };
  });

  server.handle(
    "raise_alert",
    async ({ severity, message, tower_id }, ctx) => {
      print(`🚨 alert raised by ${ctx.session}: ${message}`);
      const { alert, seq } = await raise({ severity, message, source: "operator", ...(tower_id === undefined ? {} : { tower_id }) });
      return { id: alert.id, seq };
    },
    { schema: RaiseAlert },
  );

  // The old protocol on its own path, for dashboards not yet moved to the
  // SDK: the same topics, the same handlers, the same limits.
  const legacyPath = opts.legacyPath ?? "/";
  if (legacyPath !== false) server.legacy(smartsignal000({ path: legacyPath, statsMethod: "get_server_stats", dataMethod: "request_data" }));

  // Handlers are registered before listening, so every welcome lists them.
  await server.listen();
  print(`🚀 SmartSignal streams: ${STREAMS.map((t) => `${t} every ${periods[t] / 1000}s`).join(", ")}; alerts on demand (call_drop_rate > ${threshold}%)`);
  // A first value of every stream at once, so early subscribers need not wait a whole period.
  for (const t of STREAMS) broadcast(t, produce[t]());
  const timers = STREAMS.map((t) => setInterval(() => broadcast(t, produce[t]()), periods[t]));

  let stopping: Promise<void> | undefined;
  return {
    server,
    port: server.port,
    wsUrl: server.wsUrl,
    legacyUrl: legacyPath === false ? undefined : `${server.url.replace(/^http/, "ws")}${legacyPath}`,
    alerts,
    stop: () =>
      (stopping ??= (async () => {
        for (const t of timers) clearInterval(t);
        await server.close();
      })()),
  };
}
