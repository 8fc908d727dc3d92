/**
 * Every error code a peer can see, one row per code: what it means, its
 * HTTP status, whether it spends the connection's error budget, whether it
 * is reserved for the server (a request handler or a device may not answer
 * with it as its own), and the WebSocket close code where the error ends
 * the connection. Everything else is derived from these rows: the error
 * budget's fault set, the HTTP status table, the reserved set, and the
 * table in `docs/protocol.md` (a test compares the doc with this data).
 * Zod-free: the client imports it. No hot-path cost (looked up on errors).
 * @module
 */

/** The facts about one error code. */
export interface CodeFacts {
  readonly meaning: string;
  /** Status of an HTTP answer carrying this code. */
  readonly status: number;
  /** Caused by the peer: an error frame with this code spends its error budget. */
  readonly budget: boolean;
  /** Only the server may answer with it; an application's code must be another. */
  readonly reserved: boolean;
  /** Close code when this error ends a WebSocket connection. */
  readonly close?: number;
  /** Where the code appears: on the wire (frames and HTTP bodies), HTTP only, or never sent. */
  readonly scope: "wire" | "http" | "local";
}

const wire = (meaning: string, status: number, budget: boolean) => ({ meaning, status, budget, reserved: true, scope: "wire" }) as const;

/** The table. Keys are the codes; `ErrorCode` lists the wire ones. */
export const CODES = {
  BAD_FRAME: wire("The frame is not valid msgpack / JSON, or not a map/object.", 400, true),
  UNKNOWN_TYPE: wire("`t` names no frame type this server knows.", 422, true),
  INVALID_FRAME: wire("The frame's fields do not match its type's schema.", 400, true),
  BAD_TOPIC: wire("A topic or pattern breaks the topic syntax.", 400, true),
  UNKNOWN_TOPIC: wire("The server declares its topics (option `topics`) and this one is not among them.", 404, true),
  BAD_PAYLOAD: wire("A publication's `data` is not one well-formed msgpack value.", 400, true),
  PAYLOAD_TOO_LARGE: wire("A publication's `data` is larger than the topic's `maxPayload`.", 413, true),
  FRAME_TOO_LARGE: wire("The frame is larger than its type's cap (e.g. 512 bytes for `ping`); see Size in the protocol.", 413, true),
  FORBIDDEN: wire("A grant or the topic's policy does not allow the action.", 403, true),
  NOT_SUBSCRIBED: wire("Unsubscribe from something the connection is not subscribed to.", 422, true),
  TOO_MANY_SUBSCRIPTIONS: wire("The connection holds `maxSubscriptions` already.", 429, true),
  TOO_MANY_TOPICS: wire("Publishing would create a topic past `maxTopics`.", 429, false),
  TOPIC_QUOTA: wire("Publishing would create a topic past the caller's share (`topicLimits.perConnection` / `perIdentity`).", 429, true),
  UNSUPPORTED_ENCODING: wire("The encoding asked for (subprotocol, `?encoding=`, content type) is not supported.", 415, false),
  UNAUTHORIZED: { ...wire("No valid token yet: only an `auth` frame is accepted (or the token was refused).", 401, true), close: 4401 },
  TOKEN_EXPIRED: { ...wire("The token has expired. Send a fresh one before `exp`.", 401, false), close: 4403 },
  RATE_LIMITED: wire("Publishing faster than the caller's (or the topic's) rate limit.", 429, true),
  ORIGIN_NOT_ALLOWED: { ...wire("The browser's Origin is not in `limits.allowedOrigins`.", 403, false), close: 4406 },
  TOO_MANY_CONNECTIONS: wire("Too many connections from this address (429), or in total (503).", 429, false),
  COMMAND_TIMEOUT: wire("A device command was not acknowledged before it expired.", 504, false),
  DEVICE_QUEUE_FULL: wire("The device's command queue is full.", 429, false),
  NOT_A_DEVICE: wire("`command_ack`/`command_nack`/`log` from a connection that is not a device.", 422, true),
  NO_HANDLER: wire("No request handler is registered under that method name.", 404, true),
  REQUEST_TIMEOUT: wire("The request handler did not answer within `requestTimeoutMs`.", 504, false),
  HANDLER_ERROR: wire("The request handler threw; its message is passed on.", 502, false),
  SHUTTING_DOWN: wire("The server is shutting down and refuses new work.", 503, false),
  BUS_UNAVAILABLE: wire("The cluster bus (NATS JetStream) did not acknowledge the publication within `cluster.publishTimeoutMs`; it was not published.", 503, false),
  INTERNAL: wire("Something failed inside the server; the frame had no effect.", 500, false),
  NOT_FOUND: { meaning: "No HTTP route has this path.", status: 404, budget: false, reserved: true, scope: "http" },
  METHOD_NOT_ALLOWED: { meaning: "The HTTP path exists, but not with this method.", status: 405, budget: false, reserved: true, scope: "http" },
  CONFIG: { meaning: "Bad configuration (`ConfigError`); raised at startup, never sent.", status: 500, budget: false, reserved: true, scope: "local" },
} as const satisfies Record<string, CodeFacts>;

type WireName = { [K in keyof typeof CODES]: (typeof CODES)[K]["scope"] extends "wire" ? K : never }[keyof typeof CODES];

/** The wire error codes, by name: `ErrorCode.FORBIDDEN === "FORBIDDEN"`. */
export const ErrorCode = Object.freeze(
  Object.fromEntries(Object.entries(CODES as Record<string, CodeFacts>).filter(([, f]) => f.scope === "wire").map(([k]) => [k, k])),
) as { readonly [K in WireName]: K };
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The row for a code, or undefined for an application's own code. */
export function codeFacts(code: string): CodeFacts | undefined {
  return Object.hasOwn(CODES, code) ? (CODES as Record<string, CodeFacts>)[code] : undefined;
}

/** A code outside the table (an application's own, e.g. `NO_SUCH_RELAY`) is answered with this status. */
export const APPLICATION_CODE_STATUS = 422;

/** HTTP status for an error code. */
export function statusFor(code: string): number {
  return codeFacts(code)?.status ?? APPLICATION_CODE_STATUS;
}

/** Whether an error frame with this code spends the peer's error budget. */
export function spendsBudget(code: string): boolean {
  return codeFacts(code)?.budget ?? false;
}

/** Whether only the server may use this code (a handler's or a device's own code must be another). */
export function isReserved(code: string): boolean {
  return codeFacts(code)?.reserved ?? false;
}

/** Every code only the server may use (the client adds its own to this for devices). */
export const RESERVED_CODES: ReadonlySet<string> = new Set(Object.entries(CODES as Record<string, CodeFacts>).filter(([, f]) => f.reserved).map(([k]) => k));

/** WebSocket close codes tickgate uses. 4000–4999 are ours. */
export const CloseCode = {
  /** Normal close requested by either side. */
  NORMAL: 1000,
  /** The server is shutting down (SIGTERM/SIGINT or `close()`). */
  GOING_AWAY: 1001,
  /** A frame that breaks the WebSocket protocol, e.g. unmasked (closed by the transport, RFC 6455). */
  PROTOCOL_ERROR: 1002,
  /** A text frame that is not valid UTF-8 (closed by the transport, RFC 6455). */
  INVALID_PAYLOAD: 1007,
  /** A frame larger than `maxFrameBytes` (closed by the transport). */
  MESSAGE_TOO_BIG: 1009,
  /** Too many bad frames in the error window: treated as abuse. */
  TOO_MANY_ERRORS: 4000,
  /** Subscriber fell behind on a topic whose policy action is `disconnect`. */
  SLOW_CONSUMER: 4008,
  /** The peer sent nothing, not even a pong to the server's ping, within its liveness deadline (a legacy protocol's heartbeat too, `core/legacy.ts`). */
  PEER_TIMEOUT: 4009,
  /** The token in an `auth` frame was refused. */
  AUTH_FAILED: CODES.UNAUTHORIZED.close,
  /** The token expired on a live connection. */
  TOKEN_EXPIRED: CODES.TOKEN_EXPIRED.close,
  /**
   * A WebSocket upgrade refused only for its Origin: the handshake completes
   * and the socket is closed at once with this code, because a browser
   * cannot read an HTTP refusal of an upgrade.
   */
  ORIGIN_NOT_ALLOWED: CODES.ORIGIN_NOT_ALLOWED.close,
  /** No `auth` frame arrived within `auth.timeoutMs`. */
  AUTH_TIMEOUT: 4408,
  /** Sent by a client that gave up on a connection it thinks is dead: abnormal, so wills fire. */
  CLIENT_GAVE_UP: 4100,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** 1005: no status, what a browser's plain `close()` arrives as. */
const NO_STATUS = 1005;

/** Closes that are not failures (no last will fires): normal, going away, and no status. */
export const NORMAL_CLOSES: ReadonlySet<number> = new Set([CloseCode.NORMAL, CloseCode.GOING_AWAY, NO_STATUS]);

/** Reasons a `gap` frame gives for publications a subscriber did not get. */
export const GapReason = {
  /** Policy `drop`: publications while the subscriber lagged were skipped. */
  DROPPED: "dropped",
  /** Policy `conflate`: stale values were skipped; the latest per key follows. */
  CONFLATED: "conflated",
} as const;
export type GapReason = (typeof GapReason)[keyof typeof GapReason];
