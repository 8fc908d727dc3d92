/**
 * Dead-peer detection, judged only by what the peer sends. The runtime's
 * own idle timer counts the server's writes too, so a peer that is hung but
 * still being written to (a subscriber of a busy topic, a device being
 * re-sent a command) would never time out. Here any frame from the peer, or
 * a WebSocket pong, marks it alive; one coarse sweep looks at every open
 * connection:
 *  - silent for `idleTimeoutSec`: it is sent a WebSocket ping;
 *  - still silent a quarter of `idleTimeoutSec` later (at least 1 s): closed with 4009
 *    (`PEER_TIMEOUT`), an abnormal close (its device goes `offline`, its
 *    will fires).
 * Cost: one boolean write per received frame; O(connections) per sweep,
 * every eighth of the deadline (at most every 5 s); nothing per delivery.
 * `idleTimeoutSec: 0` turns it off.
 * @module
 */
import type { Session } from "./session.ts";

export interface LivenessEvents {
  /** The peer answered nothing, not even the ping; close it. */
  dead(s: Session, silentMs: number): void;
}

/** Sweep period: an eighth of the deadline, between 50 ms and 5 s. */
export function sweepInterval(deadlineMs: number): number {
  return Math.min(5000, Math.max(50, Math.floor(deadlineMs / 8)));
}

export class Liveness {
  readonly deadlineMs: number;
  /** How long a pinged peer has to answer. */
  readonly answerMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    idleTimeoutSec: number,
    readonly sessions: ReadonlySet<Session>,
    readonly events: LivenessEvents,
  ) {
    this.deadlineMs = idleTimeoutSec * 1000;
    // At least a second: a healthy peer on a busy machine must not be cut for a late pong.
    this.answerMs = Math.max(1000, this.deadlineMs / 4);
  }

  /** Starts the sweep if there is something to watch; idempotent. */
  watch(): void {
    if (this.#timer !== undefined || this.deadlineMs === 0) return;
    this.#timer = setInterval(() => this.sweep(), sweepInterval(this.deadlineMs));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Stops the sweep (no connection left, or shutdown). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  sweep(now = Date.now()): void {
    for (const s of this.sessions) {
      const socket = s.socket;
      // Streams (SSE) have no pings; their writes fail when the peer is gone.
      if (s.closed || socket?.ping === undefined) continue;
      if (s.heard) {
        s.heard = false;
        s.quietSince = now;
        s.pingedAt = 0;
        continue;
      }
      if (s.pingedAt === 0) {
        if (now - s.quietSince >= this.deadlineMs) {
          s.pingedAt = now;
          socket.ping();
        }
      } else if (now - s.pingedAt >= this.answerMs) {
        this.events.dead(s, now - s.quietSince);
      }
    }
  }
}
