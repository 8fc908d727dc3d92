/**
 * Every error code a peer can see, in one table. Codes are stable strings;
 * the numbers are WebSocket close codes, used only when the error ends the
 * connection. `docs/protocol.md` renders this table; a test keeps them equal.
 * @module
 */

export const ErrorCode = {
  /** The frame is not valid msgpack / JSON, or not a map/object. */
  BAD_FRAME: "BAD_FRAME",
  /** `t` names no frame type this server knows. */
  UNKNOWN_TYPE: "UNKNOWN_TYPE",
  /** The frame's fields do not match its type's schema. */
  INVALID_FRAME: "INVALID_FRAME",
  /** A topic or pattern breaks the topic syntax. */
  BAD_TOPIC: "BAD_TOPIC",
  /** A publication's `data` is not one well-formed msgpack value. */
  BAD_PAYLOAD: "BAD_PAYLOAD",
  /** A publication's `data` is larger than the topic's `maxPayload`. */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** The topic's policy does not let this client publish there. */
  FORBIDDEN: "FORBIDDEN",
  /** Unsubscribe from something the connection is not subscribed to. */
  NOT_SUBSCRIBED: "NOT_SUBSCRIBED",
  /** The connection holds `maxSubscriptions` already. */
  TOO_MANY_SUBSCRIPTIONS: "TOO_MANY_SUBSCRIPTIONS",
  /** Publishing would create a topic past `maxTopics`. */
  TOO_MANY_TOPICS: "TOO_MANY_TOPICS",
  /** The encoding asked for (subprotocol or `?encoding=`) is not supported (HTTP 400 on upgrade). */
  UNSUPPORTED_ENCODING: "UNSUPPORTED_ENCODING",
  /** No valid token yet: only an `auth` frame is accepted (or the token was refused). */
  UNAUTHORIZED: "UNAUTHORIZED",
  /** The token has expired; the connection closes with 4403. Send a fresh one before `exp`. */
  TOKEN_EXPIRED: "TOKEN_EXPIRED",
  /** Publishing faster than the connection's (or the topic's) rate limit. */
  RATE_LIMITED: "RATE_LIMITED",
  /** HTTP 403 at upgrade: the browser's Origin is not in `limits.allowedOrigins`. */
  ORIGIN_NOT_ALLOWED: "ORIGIN_NOT_ALLOWED",
  /** HTTP 429/503 at upgrade: too many connections from this address, or in total. */
  TOO_MANY_CONNECTIONS: "TOO_MANY_CONNECTIONS",
  /** A device command was not acknowledged before it expired. */
  COMMAND_TIMEOUT: "COMMAND_TIMEOUT",
  /** The device's command queue is full. */
  DEVICE_QUEUE_FULL: "DEVICE_QUEUE_FULL",
  /** `command_ack`/`log` from a connection that is not a device. */
  NOT_A_DEVICE: "NOT_A_DEVICE",
  /** No request handler is registered under that method name. */
  NO_HANDLER: "NO_HANDLER",
  /** The request handler did not answer within `requestTimeoutMs`. */
  REQUEST_TIMEOUT: "REQUEST_TIMEOUT",
  /** The request handler threw; its message is passed on. */
  HANDLER_ERROR: "HANDLER_ERROR",
  /** The server is shutting down and refuses new work. */
  SHUTTING_DOWN: "SHUTTING_DOWN",
  /** Cluster only: the bus (NATS) is unreachable or did not acknowledge in time; the publication was not accepted. */
  BUS_UNAVAILABLE: "BUS_UNAVAILABLE",
  /** Something failed inside the server; the frame had no effect. */
  INTERNAL: "INTERNAL",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes tickgate uses. 4000–4999 are ours. */
export const CloseCode = {
  /** Normal close requested by either side. */
  NORMAL: 1000,
  /** The server is shutting down (SIGTERM/SIGINT or `close()`). */
  GOING_AWAY: 1001,
  /** A frame larger than `maxFrameBytes` (closed by the transport). */
  MESSAGE_TOO_BIG: 1009,
  /** Too many bad frames in the error window: treated as abuse. */
  TOO_MANY_ERRORS: 4000,
  /** Subscriber fell behind on a topic whose policy action is `disconnect`. */
  SLOW_CONSUMER: 4008,
  /** The token in an `auth` frame was refused. */
  AUTH_FAILED: 4401,
  /** The token expired on a live connection. */
  TOKEN_EXPIRED: 4403,
  /** No `auth` frame arrived within `auth.timeoutMs`. */
  AUTH_TIMEOUT: 4408,
  /** Sent by a client that gave up on a connection it thinks is dead: abnormal, so wills fire. */
  CLIENT_GAVE_UP: 4100,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Reasons a `gap` frame gives for publications a subscriber did not get. */
export const GapReason = {
  /** Policy `drop`: publications while the subscriber lagged were skipped. */
  DROPPED: "dropped",
  /** Policy `conflate`: stale values were skipped; the latest per key follows. */
  CONFLATED: "conflated",
} as const;
export type GapReason = (typeof GapReason)[keyof typeof GapReason];
