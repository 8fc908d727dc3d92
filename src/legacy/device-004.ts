/**
 * The device protocol of the earlier device gateway (seed 004), served as a
 * legacy protocol: Raspberry Pi Pico and ESP32-CAM firmware already in the
 * field keep their frames while the fleet moves to tickgate's `/ws`.
 *
 * Device → server: `auth {token}` (a first frame, for stacks that cannot
 * set headers), `connect {device, version}`, `ping`, `pong`,
 * `log {message, level}`, `ack {message}` (acknowledges the oldest command
 * not yet acknowledged, or the one named by `id`). Server → device:
 * `connection_ack`, `pong`, `ping` (every `pingIntervalMs`), `error
 * {message}`, and `command {id, command, data}` for tickgate commands.
 * A token comes as `Authorization: Bearer`, `?token=` or the `auth` frame,
 * and is checked like any other: there is no token endpoint and no address
 * that skips it. Cost: one JSON parse per message each way, legacy path only.
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import { DEVICE_ID_PATTERN, LOG_LEVELS } from "../protocol/wire.ts";
import type { ClientFrameInput, LegacyConnection, LegacyDecoded, LegacyProtocol, TickgateFrame } from "../core/legacy.ts";

export interface Device004Options {
  /** The device kind, put in the presence `meta.kind` (e.g. `pico`, `esp32cam`). */
  kind: string;
  /** The old endpoint, e.g. `/ws/pico`. */
  path: string;
  /** As in `connection_ack`'s message: "<label> connection acknowledged". Default: the kind. */
  label?: string;
  /** The seed pinged every 120 s. */
  pingIntervalMs?: number;
  /** Closed (4009) after this long without a frame from the device. Default: two ping intervals and a half. */
  idleMs?: number;
}

export const DEFAULT_PING_INTERVAL_MS = 120_000;
/** Commands remembered per connection for a plain `ack` (the server's own queue holds 100 by default). */
const MAX_OUTSTANDING = 256;

interface State {
  /** Commands sent and not yet acknowledged, oldest first (a redelivery keeps its place). */
  outstanding: string[];
  n: number;
  /** Frame ids of `connect` frames in flight. */
  connects: Set<string>;
}

const text = JSON.stringify;
const error = (message: string) => text({ type: "error", message });

function state(c: LegacyConnection): State {
  const s = c.state as Partial<State>;
  s.outstanding ??= [];
  s.n ??= 0;
  s.connects ??= new Set();
  return s as State;
}

/**
 * The seed-004 device protocol on `path`, for devices of one kind.
 * @example
 * server.legacy(device004({ kind: "pico", path: "/ws/pico", label: "Pico" }));
 */
export function device004(o: Device004Options): LegacyProtocol {
  const label = o.label ?? o.kind;
  const every = o.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  return {
    name: `device-004:${o.kind}`,
    path: o.path,
    client: "device",
    heartbeat: { intervalMs: every, idleMs: o.idleMs ?? Math.round(every * 2.5), frame: text({ type: "ping" }) },

    decode(raw, c): LegacyDecoded {
      const st = state(c);
      let m: Record<string, unknown>;
      try {
        const v: unknown = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
        if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
        m = v as Record<string, unknown>;
      } catch {
        return { fault: { code: ErrorCode.BAD_FRAME, reply: error("Invalid JSON") } };
      }
      const id = `${String(m.type).slice(0, 16)}-${++st.n}`;
      switch (m.type) {
        case "auth":
          return { frames: [{ t: "auth", id, token: m.token }] };
        case "connect": {
          st.connects.add(id);
          const meta: Record<string, string> = { kind: o.kind };
          if (typeof m.device === "string") meta.name = m.device.slice(0, 256);
          if (typeof m.version === "string") meta.version = m.version.slice(0, 256);
          // With auth off, the device's name is its id (the seed had no other); with a token, its `sub` is.
          const hello: ClientFrameInput = { t: "hello", id, client: "device", meta };
          if (typeof m.device === "string" && DEVICE_ID_PATTERN.test(m.device)) hello.device = m.device;
          return { frames: [hello] };
        }
        case "ping":
          return { frames: [{ t: "ping", id }] };
        case "pong":
          return {}; // the answer to the server's ping: arriving is all it has to do
        case "log": {
          const level = (LOG_LEVELS as readonly unknown[]).includes(m.level) ? m.level : "info";
          return { frames: [{ t: "log", id, level, message: m.message }] };
        }
        case "ack": {
          const cid = typeof m.id === "string" && st.outstanding.includes(m.id) ? m.id : st.outstanding[0];
          if (cid === undefined) return {}; // nothing to acknowledge: the seed's ack was fire-and-forget
          st.outstanding.splice(st.outstanding.indexOf(cid), 1);
          return { frames: [{ t: "command_ack", id, cid, data: typeof m.message === "string" ? { message: m.message } : null }] };
        }
        default:
          return { fault: { code: ErrorCode.UNKNOWN_TYPE, reply: error(`Unknown message type: ${String(m.type).slice(0, 64)}`) } };
      }
    },

    encode(f: TickgateFrame, c) {
      const st = state(c);
      switch (f.t) {
        case "ack":
          if (st.connects.delete(String(f.id))) return text({ type: "connection_ack", status: "success", message: `${label} connection acknowledged` });
          return null; // log, auth and ack frames had no reply in the old protocol
        case "pong":
          return text({ type: "pong" });
        case "error":
          if (f.id !== undefined) st.connects.delete(String(f.id));
          return error(f.message);
        case "command":
          if (!st.outstanding.includes(f.cid)) {
            st.outstanding.push(f.cid);
            // Expired commands are never acknowledged; keep the list bounded (oldest go first).
            if (st.outstanding.length > MAX_OUTSTANDING) st.outstanding.shift();
          }
          return text({ type: "command", id: f.cid, command: f.name, data: f.data });
        default:
          return null; // welcome, publications, stats: the old protocol had none
      }
    },
  };
}
