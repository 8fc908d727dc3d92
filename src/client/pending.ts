/**
 * Frames waiting for their answer (`ack` of a publish, `res` of a request),
 * by id, each with its timeout. Settling is idempotent: whichever of answer,
 * error, timeout, connection loss or close comes first wins.
 * @internal
 * @module
 */
import { ClientErrorCode, TickgateClientError } from "./errors.ts";

/** @internal */
export interface Pending {
  readonly id: number;
  /** Written to a connection (and lost with it), as opposed to still queued. */
  sent: boolean;
}

interface Entry extends Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** @internal */
export class PendingCalls {
  readonly #calls = new Map<number, Entry>();

  /** Registers a call; `onTimeout` runs (before the rejection) when it times out. */
  add(id: number, what: string, timeoutMs: number, onTimeout: (p: Pending) => void): { pending: Pending; promise: Promise<unknown> } {
    let entry!: Entry;
    const promise = new Promise<unknown>((resolve, reject) => {
      entry = { id, sent: false, resolve, reject, timer: undefined };
    });
    entry.timer = setTimeout(() => {
      onTimeout(entry);
      this.fail(entry, new TickgateClientError(ClientErrorCode.TIMEOUT, `no answer to '${what}' within ${timeoutMs} ms`));
    }, timeoutMs);
    this.#calls.set(id, entry);
    return { pending: entry, promise };
  }

  has(id: number): boolean {
    return this.#calls.has(id);
  }

  /** Resolves the call with this id; false if there is none (timed out, or not ours). */
  answer(id: number, value: unknown): boolean {
    const e = this.#take(id);
    if (!e) return false;
    e.resolve(value);
    return true;
  }

  fail(p: Pending | number, err: Error): boolean {
    const e = this.#take(typeof p === "number" ? p : p.id);
    if (!e) return false;
    e.reject(err);
    return true;
  }

  /** Rejects every call (or only those already written to the lost connection). */
  failAll(err: Error, onlySent = false): void {
    for (const e of [...this.#calls.values()]) if (!onlySent || e.sent) this.fail(e, err);
  }

  /** Hands a call over to someone else's promise (e.g. an HTTP publish): it is forgotten here. */
  transfer(p: Pending, to: Promise<unknown>): void {
    const e = this.#take(p.id);
    if (e) to.then(e.resolve, e.reject);
  }

  #take(id: number): Entry | undefined {
    const e = this.#calls.get(id);
    if (!e) return undefined;
    this.#calls.delete(id);
    clearTimeout(e.timer);
    return e;
  }
}
