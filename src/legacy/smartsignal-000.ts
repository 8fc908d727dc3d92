/**
 * SmartSignal AI's client protocol (seed 000), served as a legacy protocol:
 * dashboards and scripts written for the old Python server keep their
 * frames while they move to tickgate's `/ws`.
 *
 * Client → server: `subscribe {subscription}`, `unsubscribe
 * {subscription}`, `get_server_stats`, `ping`, `request_data {data_type,
 * params}`. Server → client: `welcome`, `<subscription>_update {data,
 * broadcast_time, active_connections}`, `subscribed`, `unsubscribed`,
 * `server_stats`, `pong`, `data_response`, and `error {message}` (with the
 * tickgate `code` when the error is tickgate's). A subscription name is a
 * topic; with the server's declared topics, an unknown one is refused as
 * the old server refused it. Cost: one JSON parse per message each way, on
 * this path only.
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import type { LegacyConnection, LegacyDecoded, LegacyProtocol, TickgateFrame } from "../core/legacy.ts";

export interface SmartSignal000Options {
  /** The old endpoint; the seed served it at the root of its own port. Default `/smartsignal`. */
  path?: string;
  /** Subscription names offered in `welcome` when the server declares no topics. */
  subscriptions?: readonly string[];
  /**
   * A request method that answers `get_server_stats` with the seed's
   * `{stats, performance}`; without it, the server's own `stats` frame is
   * mapped (fields it has no value for are `null`).
   */
  statsMethod?: string;
  /** The method `request_data` calls with `{data_type, params}`. Default `request_data`. */
  dataMethod?: string;
}

/** The seed's own texts, byte for byte. */
export const SEED_TEXT = {
  welcome: "مرحباً بك في SmartSignal AI! 🚀",
  badJson: "تنسيق JSON غير صحيح",
  unknownType: "نوع الرسالة غير مدعوم: ",
  unknownSubscription: "اشتراك غير مدعوم: ",
} as const;

export const COMMANDS = ["subscribe", "unsubscribe", "get_server_stats", "ping", "request_data"] as const;

interface Pending {
  kind: "subscribe" | "unsubscribe" | "stats" | "ping" | "data";
  subscription?: string;
  data_type?: string;
}

const text = JSON.stringify;
/** The seed's timestamps: ISO 8601 without a zone (UTC here), to the second. */
export const seedTime = (ms: number) => new Date(ms).toISOString().slice(0, 19);

function pending(c: LegacyConnection): Map<string, Pending> {
  return ((c.state.pending as Map<string, Pending> | undefined) ??= new Map()) as Map<string, Pending>;
}

/**
 * SmartSignal's protocol on `path`.
 * @example
 * server.legacy(smartsignal000({ statsMethod: "get_server_stats" }));
 */
export function smartsignal000(o: SmartSignal000Options = {}): LegacyProtocol {
  const dataMethod = o.dataMethod ?? "request_data";
  let n = 0;
  return {
    name: "smartsignal-000",
    path: o.path ?? "/smartsignal",

    decode(raw, c): LegacyDecoded {
      let m: Record<string, unknown>;
      try {
        const v: unknown = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
        if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
        m = v as Record<string, unknown>;
      } catch {
        return { fault: { code: ErrorCode.BAD_FRAME, reply: text({ type: "error", message: SEED_TEXT.badJson }) } };
      }
      const id = `ss-${++n}`;
      const p = pending(c);
      switch (m.type) {
        case "subscribe":
        case "unsubscribe": {
          const subscription = m.subscription;
          p.set(id, { kind: m.type, subscription: typeof subscription === "string" ? subscription : undefined });
          return { frames: [{ t: m.type === "subscribe" ? "sub" : "unsub", id, topic: subscription }] };
        }
        case "get_server_stats":
          p.set(id, { kind: "stats" });
          return { frames: [o.statsMethod ? { t: "req", id, method: o.statsMethod } : { t: "stats", id }] };
        case "ping":
          p.set(id, { kind: "ping" });
          return { frames: [{ t: "ping", id }] };
        case "request_data": {
          const data_type = typeof m.data_type === "string" ? m.data_type : undefined;
          p.set(id, { kind: "data", data_type });
          return { frames: [{ t: "req", id, method: dataMethod, data: { data_type: m.data_type, params: m.params ?? {} } }] };
        }
        default:
          return { fault: { code: ErrorCode.UNKNOWN_TYPE, reply: text({ type: "error", message: `${SEED_TEXT.unknownType}${String(m.type).slice(0, 64)}` }) } };
      }
    },

    encode(f: TickgateFrame, c) {
      switch (f.t) {
        case "welcome":
          return text({
            type: "welcome",
            message: SEED_TEXT.welcome,
            client_id: f.session,
            server_time: seedTime(f.ts),
            available_subscriptions: f.topics ?? o.subscriptions ?? [],
            commands: COMMANDS,
          });
        case "msg":
          return update(f.topic, f.data, f.ts);
        case "error": {
          const q = f.id === undefined ? undefined : take(c, String(f.id));
          const message = f.code === ErrorCode.UNKNOWN_TOPIC && q?.subscription !== undefined ? `${SEED_TEXT.unknownSubscription}${q.subscription}` : f.message;
          return text({ type: "error", message, code: f.code, ...(f.details ? { details: f.details } : {}) });
        }
        case "ack": {
          const q = take(c, String(f.id));
          if (q?.kind === "subscribe") return text({ type: "subscribed", subscription: q.subscription });
          if (q?.kind === "unsubscribe") return text({ type: "unsubscribed", subscription: q.subscription });
          return null;
        }
        case "pong":
          take(c, String(f.id));
          return text({ type: "pong", server_time: seedTime(f.ts) });
        case "stats": {
          take(c, String(f.id));
          return text({ type: "server_stats", ...mapStats(f.data as Record<string, any>) });
        }
        case "res": {
          const q = take(c, String(f.id));
          const d = (f.data ?? {}) as Record<string, unknown>;
          if (q?.kind === "stats") return text({ type: "server_stats", stats: d.stats ?? null, performance: d.performance ?? null });
          return text({ type: "data_response", data_type: d.data_type ?? q?.data_type ?? null, data: "data" in d ? d.data : d });
        }
        default:
          return null; // gaps: the old protocol had no such notice
      }
    },
  };
}

function take(c: LegacyConnection, id: string): Pending | undefined {
  const p = pending(c);
  const q = p.get(id);
  p.delete(id);
  return q;
}

/** `<subscription>_update`; a producer's own `broadcast_time` / `active_connections` are lifted to the top, as the seed had them. */
function update(topic: string, data: unknown, ts: number): string {
  let body = data;
  let broadcast_time: unknown = seedTime(ts);
  let active_connections: unknown = null;
  if (data !== null && typeof data === "object" && !Array.isArray(data)) {
    const { broadcast_time: bt, active_connections: ac, ...rest } = data as Record<string, unknown>;
    if (bt !== undefined) broadcast_time = bt;
    if (ac !== undefined) active_connections = ac;
    body = rest;
  }
  return text({ type: `${topic}_update`, data: body, broadcast_time, active_connections });
}

/** The server's `stats` frame in the seed's shape; what tickgate does not measure is `null`. */
function mapStats(d: Record<string, any>) {
  const n = (v: unknown) => (typeof v === "number" ? v : null);
  const sent = n(d.messages?.deliveries);
  const received = n(d.messages?.in);
  return {
    stats: { active_connections: n(d.connections), messages_sent: sent, messages_received: received, uptime_seconds: n(d.server?.uptimeSec ?? d.uptimeSec) },
    performance: {
      cpu_percent: n(d.cpu?.percent),
      memory_percent: null,
      active_connections: n(d.connections),
      total_messages: sent !== null && received !== null ? sent + received : null,
    },
  };
}
