/**
 * Reconnect delays: exponential growth, random jitter, a cap and an optional
 * attempt limit. Pure arithmetic with an injectable random source, so its
 * bounds are unit-tested.
 * @module
 */

/** How reconnect attempts are spaced. */
export interface BackoffOptions {
  /** First delay, and the smallest any delay can be. Default 250 ms. */
  minDelayMs: number;
  /** Largest any delay can be. Default 10 000 ms. */
  maxDelayMs: number;
  /** Each attempt's base delay is the previous one times this (≥ 1). Default 2. */
  factor: number;
  /**
   * Fraction of the base delay taken off at random, in [0, 1]: a delay lies
   * in `[base × (1 − jitter), base]`, then clamped to `[min, max]`. Default 0.5.
   */
  jitter: number;
  /** Consecutive failed attempts before giving up. Default `Infinity`. */
  maxAttempts: number;
}

/**
 * The defaults of {@link BackoffOptions}.
 * @example
 * new TickgateClient(url, { reconnect: { ...DEFAULT_BACKOFF, maxAttempts: 20 } });
 */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  minDelayMs: 250,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
});

/**
 * Checks and completes backoff options; throws a `RangeError` naming the bad field.
 * @example
 * resolveBackoff({ minDelayMs: 100 }); // { minDelayMs: 100, maxDelayMs: 10000, factor: 2, jitter: 0.5, maxAttempts: Infinity }
 */
export function resolveBackoff(opts: Partial<BackoffOptions> = {}): BackoffOptions {
  const o = { ...DEFAULT_BACKOFF, ...stripUndefined(opts) };
  const bad = (k: string, why: string) => new RangeError(`reconnect.${k}: ${why}`);
  if (!(o.minDelayMs >= 0) || !Number.isFinite(o.minDelayMs)) throw bad("minDelayMs", "must be a finite number ≥ 0");
  if (!(o.maxDelayMs >= o.minDelayMs) || !Number.isFinite(o.maxDelayMs)) throw bad("maxDelayMs", "must be a finite number ≥ minDelayMs");
  if (!(o.factor >= 1) || !Number.isFinite(o.factor)) throw bad("factor", "must be a finite number ≥ 1");
  if (!(o.jitter >= 0 && o.jitter <= 1)) throw bad("jitter", "must be within [0, 1]");
  if (!(o.maxAttempts >= 0)) throw bad("maxAttempts", "must be ≥ 0 (Infinity for no limit)");
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The delay before attempt `attempt` (0-based), for a random number `r` in [0, 1).
 * @example
 * backoffDelay(3, { minDelayMs: 100, maxDelayMs: 5000, factor: 2, jitter: 0, maxAttempts: Infinity }, 0); // 800
 */
export function backoffDelay(attempt: number, o: BackoffOptions, r: number): number {
  // min × factor^attempt overflows to Infinity for large attempts; the cap absorbs it.
  const base = Math.min(o.maxDelayMs, o.minDelayMs * Math.pow(o.factor, attempt));
  const d = base * (1 - o.jitter * r);
  return Math.min(o.maxDelayMs, Math.max(o.minDelayMs, Math.round(d)));
}

/**
 * Successive reconnect delays. `next()` gives the delay before the next
 * attempt, or `undefined` once `maxAttempts` attempts have been handed out;
 * `reset()` starts over (called when a connection is established).
 * @example
 * const b = new Backoff({ minDelayMs: 100, maxDelayMs: 2000 });
 * setTimeout(reconnect, b.next());
 */
export class Backoff {
  readonly options: BackoffOptions;
  #attempt = 0;

  constructor(
    opts: Partial<BackoffOptions> = {},
    readonly random: () => number = Math.random,
  ) {
    this.options = resolveBackoff(opts);
  }

  /** Attempts handed out since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  next(): number | undefined {
    if (this.#attempt >= this.options.maxAttempts) return undefined;
    return backoffDelay(this.#attempt++, this.options, this.random());
  }

  reset(): void {
    this.#attempt = 0;
  }
}
