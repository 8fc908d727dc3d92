/**
 * Backoff: the delay arithmetic within its bounds, and the client's real
 * reconnect attempts against a port nobody listens on spaced accordingly.
 */
import { describe, expect, test } from "bun:test";
import { Backoff, backoffDelay, resolveBackoff, TickgateClient, type WebSocketConstructor } from "../../src/client/index.ts";
import { closedPort, watch } from "./support.ts";

/** A deterministic random source (mulberry32), so failures reproduce. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("Backoff", () => {
  test("every delay lies within [min, max], whatever the options and the random draw", () => {
    const rnd = seeded(42);
    for (let k = 0; k < 200; k++) {
      const minDelayMs = Math.floor(rnd() * 1000);
      const maxDelayMs = minDelayMs + Math.floor(rnd() * 20_000);
      const o = resolveBackoff({ minDelayMs, maxDelayMs, factor: 1 + rnd() * 4, jitter: rnd() });
      const b = new Backoff(o, rnd);
      for (let i = 0; i < 60; i++) {
        const d = b.next()!;
        expect(d).toBeGreaterThanOrEqual(minDelayMs);
        expect(d).toBeLessThanOrEqual(maxDelayMs);
      }
    }
  });

  test("without jitter the delay grows by the factor until the cap", () => {
    const o = resolveBackoff({ minDelayMs: 100, maxDelayMs: 5000, factor: 3, jitter: 0 });
    const b = new Backoff(o);
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([100, 300, 900, 2700, 5000, 5000, 5000]);
    // Far past the cap, min × factor^n overflows to Infinity; the cap still holds.
    expect(backoffDelay(5000, o, 0.5)).toBe(5000);
  });

  test("jitter takes off at most its fraction: delays span [base × (1 − jitter), base]", () => {
    const o = resolveBackoff({ minDelayMs: 1000, maxDelayMs: 100_000, factor: 2, jitter: 0.5 });
    expect(backoffDelay(3, o, 0)).toBe(8000);
    expect(backoffDelay(3, o, 0.999999)).toBe(4000);
    const rnd = seeded(7);
    const ds = Array.from({ length: 2000 }, () => backoffDelay(3, o, rnd()));
    expect(Math.min(...ds)).toBeGreaterThanOrEqual(4000);
    expect(Math.max(...ds)).toBeLessThanOrEqual(8000);
    // The draw actually spreads the delays over the range (no constant).
    expect(Math.max(...ds) - Math.min(...ds)).toBeGreaterThan(3500);
    // Jitter never pushes below min: at attempt 0 base = min.
    expect(backoffDelay(0, o, 0.99)).toBe(1000);
  });

  test("maxAttempts ends the sequence; reset starts it over", () => {
    const b = new Backoff({ minDelayMs: 10, maxDelayMs: 100, jitter: 0, maxAttempts: 3 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([10, 20, 40, undefined]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.next()).toBe(10);
  });

  test("defaults, and bad options are refused with the field named", () => {
    expect(resolveBackoff()).toEqual({ minDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: 0.5, maxAttempts: Infinity });
    expect(() => resolveBackoff({ minDelayMs: -1 })).toThrow("reconnect.minDelayMs");
    expect(() => resolveBackoff({ minDelayMs: 500, maxDelayMs: 100 })).toThrow("reconnect.maxDelayMs");
    expect(() => resolveBackoff({ jitter: 1.5 })).toThrow("reconnect.jitter");
    expect(() => resolveBackoff({ maxAttempts: -1 })).toThrow("reconnect.maxAttempts");
  });
});

describe("TickgateClient reconnect backoff", () => {
  test("attempts against a closed port are spaced within the backoff bounds, then it gives up", async () => {
    const port = await closedPort();
    // The real WebSocket, subclassed only to note when each attempt starts.
    const attempts: number[] = [];
    const Base = globalThis.WebSocket;
    const Noting = class extends Base {
      constructor(url: string | URL, protocols?: string | string[]) {
        attempts.push(performance.now());
        super(url, protocols);
      }
    } as unknown as WebSocketConstructor;
    const reconnect = { minDelayMs: 20, maxDelayMs: 80, factor: 2, jitter: 0.5, maxAttempts: 5 };
    const w = watch(new TickgateClient(`ws://127.0.0.1:${port}/ws`, { WebSocket: Noting, reconnect, fallback: false }));
    await using _ = w;
    w.client.connect();
    await w.until("disconnected", 5000);
    expect(attempts).toHaveLength(6); // the first try and five retries
    expect(w.retries.map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5]);
    w.retries.forEach((r, i) => {
      const base = Math.min(80, 20 * 2 ** i);
      expect(r.delayMs).toBeGreaterThanOrEqual(Math.max(20, base / 2));
      expect(r.delayMs).toBeLessThanOrEqual(base);
      // The next attempt starts no earlier than the delay (timers may run a little late).
      const spacing = attempts[i + 1]! - w.retries[i]!.at;
      expect(spacing).toBeGreaterThanOrEqual(r.delayMs - 2);
    });
    expect(w.states).toEqual(["connecting", "reconnecting", "disconnected"]);
    const [err] = await w.errorCount(1);
    expect(err!.code).toBe("RECONNECT_FAILED");
  });
});
