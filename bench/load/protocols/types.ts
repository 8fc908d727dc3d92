/**
 * What a subscribe protocol needs from the load client, and what it gives
 * it: how to open a subscriber (`path`, `subprotocol`), and what to do with
 * each WebSocket data frame. Every protocol finds the tick counter and the
 * publish time at a known place in the frame without a full decode.
 * @module
 */
import type { WsConn } from "../ws-conn.ts";

/** The load client's counters, as the protocols see them. */
export interface Deliveries {
  /** Counts tick `n` on `c`; true when this delivery's latency is to be sampled. */
  deliver(c: WsConn, n: number): boolean;
  /** The publish time (wall clock, ms) of the delivery just counted. */
  sample(tsMs: number): void;
  /** `c` is subscribed: publications from now on must reach it. */
  ready(c: WsConn): void;
  malformed(): void;
  gap(): void;
  /** The server reported an error on `c`. */
  error(message: string): void;
  /** Something the run's report should say (counted nowhere else). */
  note(message: string): void;
}

export interface SubscribeProtocol {
  /** Request target of the WebSocket upgrade. */
  path: string;
  subprotocol: string | null;
  /** One data frame (`opcode` 2 binary, 1 text); `buf[start, end)` is valid only during the call. */
  frame(c: WsConn, buf: Uint8Array, start: number, end: number, opcode: number): void;
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();
