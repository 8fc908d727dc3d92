/**
 * Slow-consumer handling, off the delivery path.
 *
 * The native runtime fans a frame out to every subscriber of a channel and,
 * past its own per-socket cap, drops frames without telling anyone. So a
 * sweep every `checkIntervalMs` looks at the queued bytes of subscribers
 * that could be past their policy's `limitBytes`, and acts on those that
 * are — well before the native cap:
 *  - `disconnect`: close with 4008;
 *  - `drop`: take the socket off the native channel; when it drains, send a
 *    `gap` frame with the number of publications it missed and put it back;
 *  - `conflate`: as `drop`, but the channel keeps the latest publication per
 *    (topic, key) while anyone lags, and the drained subscriber gets those
 *    latest values after its `gap` frame — fast subscribers never notice.
 * A subscriber still lagging `maxLagMs` after it was taken off (under
 * `drop` or `conflate`) is closed with 4008 like a `disconnect` one: a dead
 * reader must not hold its connection and buffers forever.
 *
 * Who is looked at. A socket's queue grows only by what is sent to it: its
 * channels' publications and frames sent to it alone (replies, backlog).
 * Each channel counts the bytes it fans out since its members were last
 * looked at (`Channel.unwalked`, added once per publication); its members
 * are all looked at only when that passes a quarter of its `limitBytes`.
 * A session looked at with queue `q` is kept on the watch list — looked at
 * every sweep — while `q` plus what its channels and its own sends may add
 * before the next look (its channels' steps plus a quarter of its limit)
 * could pass its limit; a session's own sends past that quarter put it back
 * on the list. So every socket over its limit is found at the same sweep as
 * if all were looked at every time, while a sweep costs one look per
 * watched or lagging socket, and a member walk comes once per quarter limit
 * of bytes a channel sends, not once per sweep. Streams (SSE, legacy
 * protocols) reframe what they send and are always watched.
 * Work is per watched or lagging subscriber and per sweep, never per delivery.
 * @module
 */
import { GapReason } from "../protocol/codes.ts";
import { encodeFrame } from "../protocol/codec.ts";
import type { Channel, LagState } from "./channel.ts";
import type { Publication } from "./publication.ts";
import type { Session } from "./session.ts";
import { StreamSocket } from "./streams.ts";

/**
 * Most bytes a frame of `length` can add to a socket's queue: a WebSocket
 * header (≤ 10), permessage-deflate's worst-case growth, and for text the
 * UTF-8 bytes of its UTF-16 length (≤ 3 each).
 */
export function queuedBytes(frame: Uint8Array | string): number {
  const n = typeof frame === "string" ? frame.length * 3 : frame.length;
  return n + 16 + (n >> 12);
}

/** A channel's members are all looked at once it has sent this many bytes to each. */
export function walkStep(ch: Channel): number {
  return Math.max(1, ch.policy.limitBytes >> 2);
}

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
  /** Channels that sent a walk step's bytes since their members were last looked at. */
  #due: Channel[] = [];
  /** Sessions looked at every sweep: they may be near their limit. */
  readonly #watched = new Set<Session>();
  readonly #laggingSessions = new Set<Session>();
  #mark = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Sweep period (ms); 0 when stopped. */
  #interval = 0;
  /** Sessions looked at (one queued-bytes read each) since start: what the sweeps cost. */
  looks = 0;
  readonly counters: SlowConsumerCounters = { lagEvents: 0, disconnects: 0, dropped: 0, conflated: 0, nativeLimitNear: 0 };

  constructor(
    readonly nativeLimit: number,
    readonly events: SlowConsumerEvents,
    /** How long a subscriber may stay lagging before it is disconnected; 0: forever. */
    readonly maxLagMs = 0,
  ) {}

  /** Sweeps every `intervalMs` while there is something to look at (see {@link arm}). */
  start(intervalMs: number): void {
    this.#interval = intervalMs;
    this.#arm();
  }

  stop(): void {
    this.#interval = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The next sweep, if none is pending and there is a channel due, a watched
   * or a lagging session: a server whose readers keep up is not woken
   * `checkIntervalMs` after `checkIntervalMs` for nothing.
   */
  #arm(): void {
    if (this.#timer !== undefined || this.#interval === 0) return;
    if (this.#due.length === 0 && this.#watched.size === 0 && this.#laggingSessions.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.sweep();
      this.#arm();
    }, this.#interval);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Called once per publication per channel it went out on; O(1). */
  published(ch: Channel, pub: Publication): void {
    // Batch members get the same frame inside a batch: at most as many bytes, counted alike.
    let bytes = 0;
    if (ch.binaryCount > 0 || ch.batchBinaryCount > 0) bytes = queuedBytes(pub.binary());
    if (ch.textCount > 0 || ch.batchTextCount > 0) bytes = Math.max(bytes, queuedBytes(pub.text()));
    this.queued(ch, bytes);
  }

  /** `bytes` went to every native member of `ch` (a publication, or a frame that carries several). */
  queued(ch: Channel, bytes: number): void {
    ch.unwalked += bytes;
    if (ch.dirty || ch.unwalked < walkStep(ch)) return;
    ch.dirty = true;
    this.#due.push(ch);
    this.#arm();
  }

  get laggingSessions(): number {
    return this.#laggingSessions.size;
  }

  /** Sessions the next sweep looks at whatever their channels send. */
  get watchedSessions(): number {
    return this.#watched.size;
  }

  /**
   * Puts `s` on the watch list if, from `queued` bytes, what its channels
   * and its own sends may add before they bring it to a look could take it
   * past its limit; takes it off otherwise.
   */
  rewatch(s: Session, queued: number): void {
    if (s.minLimit === Infinity) return void this.#watched.delete(s);
    let slack = s.minLimit / 4;
    for (const ch of s.subs.values()) slack += walkStep(ch);
    if (queued + slack > s.minLimit || s.socket instanceof StreamSocket) this.watch(s);
    else this.#watched.delete(s);
  }

  /** Looks at `s` every sweep until a look finds it far from its limit. */
  watch(s: Session): void {
    if (s.closed) return;
    this.#watched.add(s);
    this.#arm();
  }

  sweep(): void {
    const mark = ++this.#mark;
    const due = this.#due;
    this.#due = [];
    for (let i = 0; i < due.length; i++) {
      const ch = due[i]!;
      ch.dirty = false;
      ch.unwalked = 0;
      for (const s of ch.members) {
        if (s.sweepMark === mark) continue;
        s.sweepMark = mark;
        this.#check(s);
      }
    }
    for (const s of this.#watched) {
      if (s.sweepMark === mark) continue;
      s.sweepMark = mark;
      this.#check(s);
    }
    const now = Date.now();
    for (const s of this.#laggingSessions) this.promote(s, now);
  }

  #check(s: Session): void {
    if (s.closed || !s.socket) {
      this.#watched.delete(s);
      return;
    }
    this.looks++;
    const buffered = s.socket.bufferedAmount();
    s.sentSinceCheck = 0;
    this.rewatch(s, buffered);
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
    this.#arm();
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
