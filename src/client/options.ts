/**
 * Client options: defaults, checks (one message naming the bad field) and
 * the URLs derived from the WebSocket URL.
 * @module
 */
import type { ClientType, Encoding } from "../protocol/frames.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { ClientErrorCode, TickgateClientError } from "./errors.ts";
import type { WebSocketConstructor } from "./ws-link.ts";

export interface ClientOptions {
  /** Wire encoding, negotiated as subprotocol `tickgate.msgpack` / `tickgate.json`. Default `"msgpack"`. */
  encoding?: Encoding;
  /** Sent as `?client=`; labels the session on the server. */
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
  /** What to do when WebSockets do not get through; see docs/client.md. Default `"sse"`. */
  fallback?: "sse" | false;
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
}

const DEFAULTS = { heartbeatMs: 15_000, connectTimeoutMs: 5_000, timeoutMs: 10_000, maxQueued: 1_000 };

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
  timeoutMs: number;
  maxQueued: number;
  backoff: Backoff;
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
  if (options.clientType !== undefined) u.searchParams.set("client", options.clientType);
  const num = (k: keyof typeof DEFAULTS, min: number): number => {
    const v = options[k] ?? DEFAULTS[k];
    if (typeof v !== "number" || !(v >= min)) throw bad(`${k}: must be a number ≥ ${min}`);
    return v;
  };
  const fallback = options.fallback ?? "sse";
  if (fallback !== "sse" && fallback !== false) throw bad(`fallback: must be "sse" or false`);
  let backoff: Backoff;
  try {
    backoff = new Backoff(options.reconnect);
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
    timeoutMs: num("timeoutMs", 1),
    maxQueued: num("maxQueued", 0),
    backoff,
  };
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
