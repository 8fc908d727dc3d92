/**
 * Slow-consumer handling, off the delivery path.
 *
 * The native runtime fans a frame out to every subscriber of a channel and,
 * past its own per-socket cap, drops frames without telling anyone. So a
 * sweep every `checkIntervalMs` looks at the queued bytes of subscribers of
 * channels that were published to since the last sweep (each socket once),
 * and acts on those past their policy's `limitBytes` — well before the
 * native cap:
 *  - `disconnect`: close with 4008;
 *  - `drop`: take the socket off the native channel; when it drains, send a
 *    `gap` frame with the number of publications it missed and put it back;
 *  - `conflate`: as `drop`, but the channel keeps the latest publication per
 *    (topic, key) while anyone lags, and the drained subscriber gets those
 *    latest values after its `gap` frame — fast subscribers never notice.
 * A subscriber still lagging `maxLagMs` after it was taken off (under
 * `drop` or `conflate`) is closed with 4008 like a `disconnect` one: a dead
 * reader must not hold its connection and buffers forever.
 * Work is per lagging subscriber and per sweep, never per delivery.
 * @module
 */
import { GapReason } from "../protocol/codes.ts";
import { encodeFrame } from "../protocol/codec.ts";
import type { Channel, LagState } from "./channel.ts";
import type { Session } from "./session.ts";

export interface SlowConsumerEvents {
  disconnect(s: Session, ch: Channel, buffered: number): void;
  lagged(s: Session, ch: Channel, buffered: number): void;
}

export interface SlowConsumerCounters {
  lagEvents: number;
  disconnects: number;
  dropped: number;
  conflated: number;
  nativeLimitNear: number;
}

export class SlowConsumerGuard {
  #dirty: Channel[] = [];
  readonly #laggingSessions = new Set<Session>();
  #mark = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly counters: SlowConsumerCounters = { lagEvents: 0, disconnects: 0, dropped: 0, conflated: 0, nativeLimitNear: 0 };

  constructor(
    readonly nativeLimit: number,
    readonly events: SlowConsumerEvents,
    /** How long a subscriber may stay lagging before it is disconnected; 0: forever. */
    readonly maxLagMs = 0,
  ) {}

  start(intervalMs: number): void {
    this.#timer = setInterval(() => this.sweep(), intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Called once per publication per channel; O(1). */
  markDirty(ch: Channel): void {
    ch.dirty = true;
    this.#dirty.push(ch);
  }

  get laggingSessions(): number {
    return this.#laggingSessions.size;
  }

  sweep(): void {
    const mark = ++this.#mark;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (let i = 0; i < dirty.length; i++) {
      const ch = dirty[i]!;
      ch.dirty = false;
      for (const s of ch.members) {
        if (s.sweepMark === mark) continue;
        s.sweepMark = mark;
        this.#check(s);
      }
    }
    const now = Date.now();
    for (const s of this.#laggingSessions) this.promote(s, now);
  }

  #check(s: Session): void {
    if (s.closed || !s.socket) return;
    const buffered = s.socket.bufferedAmount();
    if (buffered <= s.minLimit) return;
    if (buffered >= this.nativeLimit * 0.9) this.counters.nativeLimitNear++;
    for (const ch of s.subs.values()) {
      if (buffered <= ch.policy.limitBytes || ch.lagging.has(s)) continue;
      if (ch.policy.action === "disconnect") {
        this.counters.disconnects++;
        this.events.disconnect(s, ch, buffered);
        return;
      }
      this.#demote(s, ch, buffered);
    }
  }

  #demote(s: Session, ch: Channel, buffered: number): void {
    s.socket!.unsubscribe(ch.native(s.json, s.batch));
    ch.countNative(s.json, -1, s.batch);
    ch.lagging.set(s, { since: ch.published, at: Date.now() });
    if (ch.policy.action === "conflate") ch.latest ??= new Map();
    this.#laggingSessions.add(s);
    this.counters.lagEvents++;
    this.events.lagged(s, ch, buffered);
  }

  /** Puts a drained subscriber back on its native channels, after telling it what it missed. */
  promote(s: Session, now = Date.now()): void {
    if (s.closed || !s.socket) {
      this.#laggingSessions.delete(s);
      return;
    }
    let still = false;
    for (const ch of s.subs.values()) {
      const lag = ch.lagging.get(s);
      if (!lag) continue;
      // Low-water mark at half the limit, so a socket hovering at the limit
      // does not flap between native and lagging every sweep.
      if (s.socket.bufferedAmount() > ch.policy.limitBytes / 2) {
        if (this.maxLagMs > 0 && now - lag.at >= this.maxLagMs) {
          this.counters.disconnects++;
          this.#laggingSessions.delete(s);
          this.events.disconnect(s, ch, s.socket.bufferedAmount());
          return;
        }
        still = true;
        continue;
      }
      this.#flush(s, ch, lag);
    }
    if (!still) this.#laggingSessions.delete(s);
  }

  #flush(s: Session, ch: Channel, lag: LagState): void {
    const missed = ch.published - lag.since;
    if (ch.latest !== null) {
      const fresh: { pub: { frame(json: boolean): Uint8Array | string }; n: number }[] = [];
      for (const e of ch.latest.values()) if (e.n > lag.since) fresh.push(e);
      fresh.sort((a, b) => a.n - b.n);
      const skipped = missed - fresh.length;
      if (skipped > 0) {
        s.send(encodeFrame({ t: "gap", topic: ch.base, reason: GapReason.CONFLATED, count: skipped }, s.json));
        s.conflated += skipped;
        ch.conflated += skipped;
        this.counters.conflated += skipped;
      }
      for (const e of fresh) s.send(e.pub.frame(s.json));
    } else if (missed > 0) {
      s.send(encodeFrame({ t: "gap", topic: ch.base, reason: GapReason.DROPPED, count: missed }, s.json));
      s.dropped += missed;
      ch.dropped += missed;
      this.counters.dropped += missed;
    }
    this.release(s, ch);
    s.socket!.subscribe(ch.native(s.json, s.batch));
    ch.countNative(s.json, +1, s.batch);
  }

  /** Forgets that `s` lags on `ch` (after a flush, an unsubscribe or a close). */
  release(s: Session, ch: Channel): void {
    ch.lagging.delete(s);
    if (ch.lagging.size === 0) ch.latest = null;
  }
}
