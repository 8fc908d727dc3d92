/**
 * Frames waiting for a link: kept in order while no link is ready, up to
 * `maxQueued`, and handed to the next ready link. A call that times out
 * while queued leaves the queue. Cost: one array push per queued frame.
 * @internal
 * @module
 */
import { ClientErrorCode, TickgateClientError } from "./errors.ts";
import type { Link, OutFrame } from "./link.ts";
import type { Pending } from "./pending.ts";

interface Queued {
  frame: OutFrame;
  /** Set for a frame whose answer someone waits for. */
  pending?: Pending;
  timeoutMs: number;
}

/** @internal */
export class Outbox {
  #queued: Queued[] = [];

  constructor(readonly maxQueued: number) {}

  /** Queues a frame, or returns the `QUEUE_FULL` error to settle it with. */
  push(frame: OutFrame, pending: Pending | undefined, timeoutMs: number): TickgateClientError | undefined {
    if (this.#queued.length >= this.maxQueued) {
      return new TickgateClientError(ClientErrorCode.QUEUE_FULL, `${this.maxQueued} frames are queued already while not connected`);
    }
    this.#queued.push(pending ? { frame, pending, timeoutMs } : { frame, timeoutMs });
    return undefined;
  }

  /** Forgets a call that gave up waiting. */
  drop(pending: Pending): void {
    this.#queued = this.#queued.filter((q) => q.pending !== pending);
  }

  /** Hands everything queued to `link`, in order. */
  flush(link: Link): void {
    const queued = this.#queued;
    this.#queued = [];
    for (const q of queued) {
      if (q.pending) link.call(q.frame, q.pending, q.timeoutMs);
      else link.send(q.frame);
    }
  }

  clear(): void {
    this.#queued = [];
  }
}
