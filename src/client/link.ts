/**
 * What the client's connection life cycle asks of a transport: the `Link`
 * interface (one per transport: `ws-link.ts`, `sse-link.ts`), the callbacks
 * a link reports through, and the shared state a link writes into (calls
 * awaiting answers, subscriptions awaiting acks). A link owns its sends:
 * the public API never asks which transport it has.
 * @internal
 * @module
 */
import type { ClientMode } from "./types.ts";
import type { IncomingFrame } from "./codec.ts";
import type { TickgateClientError } from "./errors.ts";
import type { Pending, PendingCalls } from "./pending.ts";
import type { SubscriptionRegistry } from "./registry.ts";
import type { SubscriptionState } from "./subscription.ts";
import type { AckFrame, ErrorFrame } from "../protocol/wire.ts";

/** A frame the client sends: a map with `t`. @internal */
export type OutFrame = Record<string, unknown> & { t: string };

/** How a link ended. @internal */
export interface LinkClosed {
  code: number;
  reason: string;
  /** The transport had opened (WebSocket open / HTTP 200) before it ended. */
  opened: boolean;
  /** An error worth reporting (e.g. an HTTP error body), beside the plain close. */
  error?: Error;
}

/** What a link reports. Every callback is for the link that calls it; the life cycle ignores stale links. @internal */
export interface LinkCallbacks {
  /** The transport opened (a WebSocket's open; an SSE stream's HTTP 200). */
  onOpen(): void;
  onFrame(frame: IncomingFrame): void;
  /** Exactly once, however the link ends. */
  onClose(info: LinkClosed): void;
  /** A heartbeat ping was answered, after `rttMs`. */
  onPong?(rttMs: number): void;
  /** The link can carry frames without waiting for a welcome (SSE with nothing to stream). */
  onReady?(): void;
  /** A stream named the subscription its ack is for by topic (SSE). */
  onStreamAck?(ack: AckFrame & { topic: string }): void;
  /** A stream refused the subscriptions to `topic` (SSE). */
  onStreamRefusal?(topic: string, error: ErrorFrame): void;
}

/** Subscribe frames awaiting their ack, by frame id. @internal */
export interface SubAck {
  sub: SubscriptionState;
  /** The recover position was cut to fit the frame limit. */
  truncated: boolean;
}

/** The client's state a link reads and writes. @internal */
export interface LinkHost {
  readonly calls: PendingCalls;
  readonly subs: SubscriptionRegistry;
  readonly subAcks: Map<number, SubAck>;
  /** Frames whose answer nobody waits for (unsub): their acks and errors are dropped. */
  readonly quiet: Set<number>;
  /** Default timeout of a frame sent without one (fire and forget over HTTP). */
  readonly timeoutMs: number;
  nextId(): number;
  report(err: TickgateClientError): void;
  /** The server's frame limit from its welcome, for sizing recover positions. */
  maxFrameBytes(): number;
}

/**
 * One transport the client talks through. The life cycle creates one per
 * connection attempt, hands it every frame once it is `ready`, and drops it
 * when `onClose` comes.
 * @internal
 */
export interface Link {
  readonly mode: ClientMode;
  readonly opened: boolean;
  readonly ended: boolean;
  /** Frames can go out now (WebSocket: after the handshake; SSE + HTTP: at once). */
  readonly ready: boolean;
  /** The server knows this link as one session: `hello`, `auth`, commands and `log` travel on it. */
  readonly session: boolean;
  /** Publications of a topic arrive whatever the subscriptions' filters (the client filters; SSE). */
  readonly unfiltered: boolean;
  /** The handshake is done: frames may go out. */
  markReady(): void;
  /** A frame nobody waits for (fire-and-forget publish, log, command_ack); failures go to `host.report`. */
  send(frame: OutFrame): void;
  /** A frame whose answer settles `pending` (registered under `frame.id`). */
  call(frame: OutFrame, pending: Pending, timeoutMs: number): void;
  /** Starts holding `sub` (a subscribe frame, or a stream reopened with it). */
  hold(sub: SubscriptionState): void;
  /** Stops holding `sub`, already removed from the registry; `held` says the server had it. */
  release(sub: SubscriptionState, held: boolean): void;
  /** The registry changed behind the link's back (a refused subscription): catch up. */
  resync(): void;
  /** Ends the link now, without a close handshake a dead peer would never finish; `onClose` runs before this returns. */
  abandon(reason: string, code?: number): void;
}

/** A subscription as messages name it: `'news'`, or `'news' with filter {"any":["btc"]}`. @internal */
export function describe(sub: SubscriptionState): string {
  return sub.filter ? `'${sub.topic}' with filter ${JSON.stringify(sub.filter)}` : `'${sub.topic}'`;
}
