/**
 * Client options: defaults, checks (one message naming the bad field) and
 * the URLs derived from the WebSocket URL.
 * @module
 */
import { DEVICE_ID_PATTERN, LIMITS, type ClientType, type Encoding } from "../protocol/wire.ts";
import { topicError } from "../protocol/topic.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { ClientErrorCode, TickgateClientError } from "./errors.ts";
import type { WebSocketConstructor } from "./ws-link.ts";

export interface ClientOptions {
  /** Wire encoding, negotiated as subprotocol `tickgate.msgpack` / `tickgate.json` (the batch-frame variant offered first). Default `"msgpack"`. */
  encoding?: Encoding;
  /** Sent as `?client=`; labels the session on the server. Default: none, or `"device"` with `deviceId`. */
  clientType?: ClientType;
  /** WebSocket implementation. Default `globalThis.WebSocket` (browsers, Bun, Node 22+); on Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructor;
  /** `fetch` for SSE and HTTP publish. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Reconnect backoff; see {@link BackoffOptions}. */
  reconnect?: Partial<BackoffOptions>;
  /**
   * App-level `ping` every this many ms; a connection that answers neither
   * the ping nor with any other frame by the next beat is dead and is
   * replaced. Over SSE, a stream silent for twice this (at least 12 s: the
   * server pings every 5 s) is dead. 0 disables.
   * Default 15 000.
   */
  heartbeatMs?: number;
  /** A WebSocket not open within this long counts as failed (and triggers the SSE fallback). Default 5 000. */
  connectTimeoutMs?: number;
  /** What to do when WebSockets do not get through; see docs/client.md. Default `"sse"`, `false` for a device (`deviceId`, or `clientType: "device"`). */
  fallback?: "sse" | false;
  /**
   * After a WebSocket that was open is lost, how long reconnecting may keep
   * failing before the client falls back to SSE + HTTP (with `fallback:
   * "sse"`). It keeps trying the WebSocket meanwhile, with the `reconnect`
   * backoff, and switches back once one opens. `Infinity`: never fall back
   * after a cut. Default 5 000.
   */
  fallbackAfterMs?: number;
  /** Base URL for SSE and HTTP publish. Default: the WebSocket URL with http(s) and without its `/ws` path. */
  httpUrl?: string;
  /** Default timeout of publish acks and requests, from the call. Default 10 000. */
  timeoutMs?: number;
  /** Frames (publishes, requests) kept while not connected; past it they are refused with `QUEUE_FULL`. Default 1 000. */
  maxQueued?: number;
  /**
   * A JWT for servers with auth on (see the README, "Securing tickgate").
   * Sent as `?token=` on WebSocket connects (browsers cannot set headers on
   * a WebSocket) and as `Authorization: Bearer` for SSE and HTTP publish.
   * Replace it before it expires with {@link TickgateClient.setToken}.
   */
  token?: string;
  /**
   * Makes this client a device with this id (one topic token: 1–128 of
   * `A–Z a–z 0–9 _ - : @ ~ + =`), sent in a `hello` on every connect. Only
   * on servers that don't require tokens; with a token, the device id is
   * the token's `sub` and this is not needed. Implies `clientType: "device"`
   * (another `clientType` is refused) and `fallback: false` unless given:
   * commands only travel over WebSocket (`clientType: "device"` alone, for a
   * device whose id is its token's `sub`, implies the same fallback). See
   * docs/client.md, "Devices".
   */
  deviceId?: string;
  /** Metadata sent in the `hello` on every connect: keys of ≤ 64 characters, values strings (≤ 256 characters), numbers or booleans. */
  meta?: Record<string, string | number | boolean>;
  /**
   * A last will sent in the `hello` on every connect: the server publishes
   * it for this client if its connection ends abnormally (not after `close()`).
   * Needs a `publish` grant for its topic.
   */
  will?: Will;
}

/** A last will: a publication the server makes if the connection ends abnormally. */
export interface Will {
  /** A concrete topic. */
  topic: string;
  /** Missing means `null`. */
  data?: unknown;
  /** Conflation / retention key, 1–128 characters. */
  key?: string;
}

/** What the `hello` frame says besides `client`. @internal */
export interface HelloFields {
  device?: string;
  meta?: Record<string, string | number | boolean>;
  will?: { topic: string; data: unknown; key?: string };
}

const DEFAULTS = { heartbeatMs: 15_000, connectTimeoutMs: 5_000, timeoutMs: 10_000, maxQueued: 1_000, fallbackAfterMs: 5_000 };

/** Options checked and completed. @internal */
export interface ResolvedOptions {
  url: string;
  httpUrl: string;
  encoding: Encoding;
  /** Undefined when the runtime has none and none was given: SSE only. */
  WebSocket: WebSocketConstructor | undefined;
  fetch: typeof fetch;
  heartbeatMs: number;
  connectTimeoutMs: number;
  fallback: "sse" | false;
  fallbackAfterMs: number;
  timeoutMs: number;
  maxQueued: number;
  backoff: Backoff;
  /** Spaces WebSocket attempts while on SSE after a cut; never gives up. */
  probeBackoff: Backoff;
  /** The client type asked for, if any. */
  clientType: ClientType | undefined;
  /** Sent in a `hello` on every connect; undefined when there is nothing to say. */
  hello: HelloFields | undefined;
}

/** @internal */
export function resolveOptions(url: string, options: ClientOptions): ResolvedOptions {
  const bad = (msg: string) => new TickgateClientError(ClientErrorCode.INVALID_OPTION, msg);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad(`url: '${url}' is not an absolute URL`);
  }
  if (u.protocol === "http:" || u.protocol === "https:") u.protocol = u.protocol === "http:" ? "ws:" : "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") throw bad(`url: '${url}' must be ws://, wss://, http:// or https://`);
  const encoding = options.encoding ?? "msgpack";
  if (encoding !== "msgpack" && encoding !== "json") throw bad(`encoding: must be "msgpack" or "json"`);
  const hello = resolveHello(options, bad);
  let clientType = options.clientType;
  if (hello?.device !== undefined) {
    if (clientType !== undefined && clientType !== "device") throw bad(`clientType: must be "device" (or left out) with deviceId`);
    clientType = "device";
  }
  if (clientType !== undefined) u.searchParams.set("client", clientType);
  const num = (k: keyof typeof DEFAULTS, min: number): number => {
    const v = options[k] ?? DEFAULTS[k];
    if (typeof v !== "number" || !(v >= min)) throw bad(`${k}: must be a number ≥ ${min}`);
    return v;
  };
  // A device on SSE could never receive a command: it fails rather than fall back, unless told to.
  // That goes for a device whose id comes from its token too (clientType "device", no deviceId).
  const fallback = options.fallback ?? (clientType === "device" ? false : "sse");
  if (fallback !== "sse" && fallback !== false) throw bad(`fallback: must be "sse" or false`);
  let backoff: Backoff;
  let probeBackoff: Backoff;
  try {
    backoff = new Backoff(options.reconnect);
    probeBackoff = new Backoff({ ...options.reconnect, maxAttempts: Infinity });
  } catch (e) {
    throw bad((e as Error).message);
  }
  const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!WS && fallback !== "sse") throw bad("WebSocket: no global WebSocket in this runtime; pass one (e.g. from the 'ws' package)");
  return {
    url: u.toString(),
    httpUrl: (options.httpUrl ?? deriveHttpUrl(u)).replace(/\/+$/, ""),
    encoding,
    WebSocket: WS,
    fetch: options.fetch ?? globalThis.fetch?.bind(globalThis),
    heartbeatMs: num("heartbeatMs", 0),
    connectTimeoutMs: num("connectTimeoutMs", 1),
    fallback,
    fallbackAfterMs: num("fallbackAfterMs", 0),
    timeoutMs: num("timeoutMs", 1),
    maxQueued: num("maxQueued", 0),
    backoff,
    probeBackoff,
    clientType,
    hello,
  };
}

/** Checks `deviceId`, `meta` and `will` against the limits of the `hello` frame. */
function resolveHello(options: ClientOptions, bad: (msg: string) => TickgateClientError): HelloFields | undefined {
  const { deviceId, meta, will } = options;
  if (deviceId === undefined && meta === undefined && will === undefined) return undefined;
  const out: HelloFields = {};
  if (deviceId !== undefined) {
    if (typeof deviceId !== "string" || !DEVICE_ID_PATTERN.test(deviceId)) throw bad("deviceId: must be one topic token (1–128 of A–Z a–z 0–9 _ - : @ ~ + =, no '.')");
    out.device = deviceId;
  }
  if (meta !== undefined) {
    if (meta === null || typeof meta !== "object" || Array.isArray(meta)) throw bad("meta: must be an object");
    for (const [k, v] of Object.entries(meta)) {
      if (k.length > LIMITS.metaKeyLength) throw bad(`meta: key '${k.slice(0, 16)}…' is longer than ${LIMITS.metaKeyLength} characters`);
      const ok = typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)) || (typeof v === "string" && v.length <= LIMITS.metaValueLength);
      if (!ok) throw bad(`meta.${k}: must be a string of at most 256 characters, a finite number or a boolean`);
    }
    out.meta = { ...meta };
  }
  if (will !== undefined) {
    if (will === null || typeof will !== "object") throw bad("will: must be an object {topic, data?, key?}");
    const why = topicError(will.topic, false);
    if (why) throw bad(`will.topic: ${why}`);
    if (will.key !== undefined && (typeof will.key !== "string" || will.key.length < 1 || will.key.length > LIMITS.keyLength)) throw bad("will.key: must be a string of 1–128 characters");
    out.will = will.key === undefined ? { topic: will.topic, data: will.data ?? null } : { topic: will.topic, data: will.data ?? null, key: will.key };
  }
  return out;
}

/** `ws://host:port/prefix/ws?x` → `http://host:port/prefix`. */
function deriveHttpUrl(ws: URL): string {
  const h = new URL(ws.toString());
  h.protocol = ws.protocol === "wss:" ? "https:" : "http:";
  h.search = "";
  h.hash = "";
  h.pathname = h.pathname.replace(/\/ws\/?$/, "").replace(/\/+$/, "");
  return h.toString().replace(/\/+$/, "");
}
