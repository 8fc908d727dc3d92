/**
 * The client's public types: states, per-call options, events and stats.
 * @module
 */
import type { WelcomeFrame } from "../protocol/frames.ts";
import type { TickgateClientError } from "./errors.ts";
import type { GapInfo } from "./subscription.ts";

/** `connecting`: first attempt; `reconnecting`: connection lost or attempt failed, retrying; `disconnected`: closed or gave up. */
export type ClientState = "connecting" | "connected" | "reconnecting" | "disconnected";
/** The transport in use. */
export type ClientMode = "websocket" | "sse";

export interface PublishOptions {
  /** Conflation / retention key, e.g. the symbol of a tick. */
  key?: string;
  /** Wait for the server's ack and resolve to the seq (default `true`). `false`: fire and forget. */
  ack?: boolean;
  /** Ack timeout; default the client's `timeoutMs`. */
  timeoutMs?: number;
}

export interface RequestOptions {
  /** Default the client's `timeoutMs`. */
  timeoutMs?: number;
}

export interface SubscribeOptions {
  /** Called when this subscription missed publications (server `gap`, failed recovery). */
  onGap?: (info: GapInfo) => void;
}

/** What `subscribe` returns: call it to unsubscribe. */
export interface Subscription {
  (): void;
  /** The topic or pattern subscribed to. */
  readonly topic: string;
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
  /** The transport changed (the SSE fallback kicked in). */
  mode: (mode: ClientMode) => void;
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
}
