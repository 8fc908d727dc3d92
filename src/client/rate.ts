/**
 * Events per second over a sliding window, kept in a few time buckets so
 * counting is O(1) and memory is fixed.
 * @internal
 * @module
 */

/** @internal */
export class RateMeter {
  readonly #bucketMs: number;
  readonly #counts: number[];
  /** Index (time / bucketMs) of the newest bucket. */
  #head = -1;
  readonly #startedAt: number;

  constructor(
    readonly windowMs = 5000,
    buckets = 10,
    readonly now: () => number = Date.now,
  ) {
    this.#bucketMs = windowMs / buckets;
    this.#counts = new Array(buckets).fill(0);
    this.#startedAt = now();
  }

  add(n = 1): void {
    this.#advance(this.now());
    this.#counts[this.#head % this.#counts.length]! += n;
  }

  /** Events per second over the window (or since creation, when younger than the window). */
  perSecond(): number {
    const t = this.now();
    this.#advance(t);
    let sum = 0;
    for (const c of this.#counts) sum += c;
    const span = Math.min(this.windowMs, Math.max(t - this.#startedAt, this.#bucketMs));
    return (sum * 1000) / span;
  }

  #advance(t: number): void {
    const idx = Math.floor(t / this.#bucketMs);
    if (this.#head < 0) {
      this.#head = idx;
      return;
    }
    const n = this.#counts.length;
    // Zero the buckets that slid out; a long pause clears all of them.
    for (let i = this.#head + 1; i <= idx && i <= this.#head + n; i++) this.#counts[i % n] = 0;
    if (idx > this.#head) this.#head = idx;
  }
}
