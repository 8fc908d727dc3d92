/**
 * The client's public types: states, per-call options, events and stats.
 * @module
 */
import type { FilterSpec } from "../protocol/filter-core.ts";
import type { ClientType, WelcomeFrame } from "../protocol/wire.ts";
import type { TickgateClientError } from "./errors.ts";
import type { GapInfo } from "./subscription.ts";

/** `connecting`: first attempt; `reconnecting`: connection lost or attempt failed, retrying; `disconnected`: closed or gave up. */
export type ClientState = "connecting" | "connected" | "reconnecting" | "disconnected";
/** The transport in use. */
export type ClientMode = "websocket" | "sse";

export interface PublishOptions {
  /** Conflation / retention key, e.g. the symbol of a tick. */
  key?: string;
  /**
   * Tags that subscription filters select on, e.g. a news item's keywords:
   * at most 32 strings of 1–64 characters. Subscribers see them as `meta.tags`.
   */
  tags?: string[];
  /** Wait for the server's ack and resolve to the seq (default `true`). `false`: fire and forget. */
  ack?: boolean;
  /** Ack timeout; default the client's `timeoutMs`. */
  timeoutMs?: number;
}

export interface RequestOptions {
  /** Default the client's `timeoutMs`. */
  timeoutMs?: number;
}

export interface CommandOptions {
  /**
   * How long the server keeps the command for the device (queued while the
   * device is offline, resent until acknowledged) before it answers
   * `COMMAND_TIMEOUT`: 1–86 400 000 ms. Default: the client's `timeoutMs`,
   * so that a command the caller stopped waiting for is also withdrawn.
   */
  ttlMs?: number;
  /** How long the caller waits for the answer. Default `ttlMs` + 2 000, so the server's `COMMAND_TIMEOUT` comes first. */
  timeoutMs?: number;
}

/** A device log line's level. */
export type { LogLevel } from "../protocol/wire.ts";

/**
 * A filter over publications' tags, applied by the server: a publication
 * passes when it has at least one tag of `any`, every tag of `all` and no
 * tag of `none` (each list optional, at least one given, 1–32 tags of 1–64
 * characters).
 */
export type SubscriptionFilter = FilterSpec;

export interface SubscribeOptions {
  /** Called when this subscription missed publications (server `gap`, failed recovery). */
  onGap?: (info: GapInfo) => void;
  /**
   * Only publications whose tags pass this filter; see {@link SubscriptionFilter}.
   * The topic and the filter together name the subscription: the same topic
   * with another filter (or none) is a subscription of its own.
   */
  filter?: SubscriptionFilter;
}

/** What `subscribe` returns: call it to unsubscribe. */
export interface Subscription {
  (): void;
  /** The topic or pattern subscribed to. */
  readonly topic: string;
  /** The filter subscribed with, if any. */
  readonly filter: Readonly<SubscriptionFilter> | undefined;
  /**
   * Resolves once the server has acknowledged the subscription (publications
   * made after that reach the handler); rejects if the server refuses it.
   */
  ready(timeoutMs?: number): Promise<void>;
}

export interface ClientEvents {
  state: (state: ClientState, previous: ClientState) => void;
  /** A subscription missed publications: see {@link GapInfo}. Time to re-snapshot. */
  gap: (info: GapInfo) => void;
  /** Errors with no caller to reject: a throwing handler, a refused fire-and-forget publish, a refused subscription. */
  error: (error: TickgateClientError) => void;
  /** A reconnect attempt is scheduled. */
  retry: (info: { attempt: number; delayMs: number }) => void;
  /** The server's welcome, on every (re)connect. Not sent when SSE runs without subscriptions. */
  welcome: (welcome: WelcomeFrame) => void;
  /** The transport changed: the SSE fallback kicked in, or the WebSocket is back after a cut. */
  mode: (mode: ClientMode) => void;
  /** Something the client works around but the app should know, e.g. `NO_WEBSOCKET`; see {@link ClientWarning}. Also logged with `console.warn`. */
  warning: (warning: ClientWarning) => void;
  /** A heartbeat `ping` was answered (WebSocket only), `rttMs` after it was sent. */
  heartbeat: (info: { rttMs: number }) => void;
}

/**
 * A condition the client works around. `NO_WEBSOCKET`: the runtime has no
 * global `WebSocket` and none was passed (option `WebSocket`), so the client
 * runs over SSE + HTTP (Node 20: pass `WebSocket` from the `ws` package).
 */
export interface ClientWarning {
  code: "NO_WEBSOCKET";
  message: string;
}

export interface ClientStats {
  /** Publications delivered to handlers (each once, however many handlers). */
  messages: number;
  /** Of those, per second over the last 5 s. */
  messagesPerSec: number;
  /** Connections re-established after one was lost. */
  reconnects: number;
  /** `gap` events (server gaps and failed recoveries). */
  gaps: number;
  /** Publications replayed by the server on resubscribe. */
  recovered: number;
  mode: ClientMode;
  state: ClientState;
  /** Round trip of the last answered heartbeat ping, in ms; undefined before the first (and over SSE). */
  rttMs: number | undefined;
}

/** The asking connection, in the answer to a `stats` frame. */
export interface SessionStats {
  id: string;
  client: ClientType;
  /** The token's `sub`, when the connection has a token. */
  who?: string;
  /** The device id, when the connection is a device. */
  device?: string;
  subscriptions: number;
  messagesIn: number;
  dropped: number;
  conflated: number;
  connectedAt: number;
  meta: Record<string, string | number | boolean>;
}

/** One of the busiest subscriptions in a full stats snapshot. */
export interface TopicStats {
  /** The topic or pattern, then `#` and the filter for a filtered subscription. */
  topic: string;
  subscribers: number;
  published: number;
  dropped: number;
  conflated: number;
  filtered?: boolean;
}

/**
 * What `serverStats()` resolves to. `connections` and `sessions` are always
 * there. A server that requires tokens answers a connection without
 * `tg.admin` with the short summary (those two, `uptimeSec`,
 * `devicesOnline`, `session`); otherwise the full snapshot comes, with
 * `server`, `topics`, `topTopics` and the rest. `session` describes the
 * asking connection and is absent over SSE (`GET /stats`). The snapshot
 * may grow fields over time.
 */
export interface ServerStats {
  connections: number;
  sessions: Record<ClientType, number>;
  /** Short summary only (the full snapshot has `server.uptimeSec`). */
  uptimeSec?: number;
  devicesOnline?: number;
  session?: SessionStats;
  server?: { name: "tickgate"; version: string; uptimeSec: number; startedAt: number; epoch: string };
  subscriptions?: number;
  topics?: number;
  channels?: number;
  messages?: { in: number; publications: number; deliveries: number };
  bytes?: { in: number; out: number };
  slowConsumers?: { lagging: number; lagEvents: number; disconnects: number; dropped: number; conflated: number; nativeLimitNear: number };
  encodes?: { msgpack: number; json: number };
  cpu?: { percent: number; userMs: number; systemMs: number };
  memory?: { rss: number; heapUsed: number };
  topTopics?: TopicStats[];
  security?: Record<string, number>;
}
