/**
 * The remote bench's load, in one process: subscriber connections and
 * publishing connections to a running tickgate, all through its client
 * protocol (`sub` and wait for the ack; `pub` frames carrying the suite's
 * tick, bench/lib/tick.ts). Deliveries are checked for gaps and duplicates
 * per stream and sampled into the suite's latency histogram; publish and
 * receive times come from one clock, so latency needs no clock sync.
 *
 * Streams, as in the suite's subscriber client: with K topics, tick n goes
 * to topic (n-1) % K, and a subscription to topic s expects n = s+1, s+1+K,
 * ... in order. Devices (ingest) each count their own ticks instead.
 * @module
 */
import { packr, unpackr } from "../../src/protocol/codec.ts";
import type { FrameSink, WsConn } from "../load/ws-conn.ts";
import { isPublication, payloadTemplate, readN, readTs, stamp, tailOk, wallMs } from "../lib/tick.ts";
import { latencyOf, newHistogram, recordUs } from "../scenarios/clients/latency.ts";
import { openConn, type Target } from "./conn.ts";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `{t:"pub", topic, data}` with the tick as data: the header once, the payload stamped per send. */
export function pubFrame(topic: string, payload: number): Uint8Array {
  const head = packr.pack({ t: "pub", topic });
  const tpl = payloadTemplate(payload);
  const frame = new Uint8Array(head.length + 5 + tpl.length);
  frame.set(head, 0);
  frame[0] = head[0]! + 1; // one more map entry: data
  frame.set([0xa4, 0x64, 0x61, 0x74, 0x61], head.length);
  frame.set(tpl, head.length + 5);
  return frame;
}

/** What one connection does: subscribe to `subs` (and count deliveries), or publish. */
interface Role {
  subs: string[];
  /** Stream slots it is due (tick n's stream is (n-1) % K); all K for a wildcard; empty for a publisher. */
  streams: number[];
  wildcard: boolean;
  /** Last counter seen per stream slot. */
  last: Float64Array;
  acksDue: number;
}

export interface LoadCounts {
  t: number;
  deliveries: number;
  published: number;
  lost: number;
  dup: number;
  malformed: number;
  stray: number;
  errorFrames: number;
  closed: number;
  failures: string[];
}

/**
 * Subscribers on K topics (`<prefix>fanout` when K = 1, else `<prefix>t.<k>`,
 * wildcards on `<prefix>t.*`), and one or more publisher connections sending
 * round-robin over the topics (ingest: each device publishes its own topic,
 * listeners on `<prefix>ingest.>`).
 */
export class RemoteLoad {
  readonly conns: WsConn[] = [];
  readonly roles: Role[] = [];
  readonly hist = newHistogram();
  negative = 0;
  deliveries = 0;
  published = 0;
  lost = 0;
  dup = 0;
  malformed = 0;
  stray = 0;
  errorFrames = 0;
  closed = 0;
  connectMs = NaN;
  readonly failures: string[] = [];
  #ready = 0;
  #sampleCountdown: number;
  #onReady: (() => void) | null = null;
  #onFatal: ((e: Error) => void) | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #pubConns: WsConn[] = [];
  #frames: Uint8Array[] = [];
  /** Per publishing stream (device or topic) in ingest mode: ticks sent. */
  #sent: Float64Array;
  /** Ingest: last tick seen per device by the first listener. */
  #seen: Float64Array;

  constructor(
    readonly target: Target,
    readonly o: { prefix: string; topics: number; subs: number; perSub: number; wildcards: number; publishers: number; payload: number; sample: number; ingest: boolean; single?: string },
  ) {
    this.#sampleCountdown = o.sample;
    this.#sent = new Float64Array(o.ingest ? o.publishers : 0);
    this.#seen = new Float64Array(o.ingest ? o.publishers : 0);
  }

  topic(k: number): string {
    if (this.o.ingest) return `${this.o.prefix}ingest.d${k}`;
    return this.o.topics === 1 ? `${this.o.prefix}${this.o.single ?? "fanout"}` : `${this.o.prefix}t.${k}`;
  }

  #fail(why: string): void {
    if (this.failures.length < 5) this.failures.push(why);
  }

  #role(i: number): Role {
    const { subs, topics: K, perSub, wildcards } = this.o;
    const mk = (topics: string[], streams: number[], wildcard: boolean): Role => ({ subs: topics, streams, wildcard, last: new Float64Array(wildcard ? K : streams.length), acksDue: topics.length });
    if (i >= subs + wildcards) return mk([], [], false); // a publisher
    if (this.o.ingest) return mk([`${this.o.prefix}ingest.>`], [], true);
    if (i >= subs) return mk([`${this.o.prefix}t.*`], [], true);
    if (K === 1) return mk([this.topic(0)], [0], false);
    const ks = Array.from({ length: perSub }, (_, j) => (i * perSub + j) % K).sort((a, b) => a - b);
    return mk(ks.map((k) => this.topic(k)), ks, false);
  }

  readonly #sink: FrameSink = {
    frame: (c, buf, start, end) => {
      const r = this.roles[c.id]!;
      if (c.ready && end - start > 24 && isPublication(buf, start)) return this.#delivery(c, r, buf, start, end);
      const f = unpackr.unpack(buf.subarray(start, end)) as { t?: string; id?: number; code?: string; message?: string };
      if (f.t === "welcome") {
        if (r.subs.length === 0) return this.#markReady(c);
        r.subs.forEach((topic, j) => c.send(2, packr.pack({ t: "sub", id: j + 1, topic })));
      } else if (f.t === "ack" && typeof f.id === "number") {
        if (--r.acksDue === 0) this.#markReady(c);
      } else if (f.t === "error") {
        this.errorFrames++;
        const why = `error frame${f.code ? ` ${f.code}` : ""}: ${f.message}`;
        this.#fail(why);
        // Refused before it was ready (a topic the token does not grant): nothing will follow.
        if (!c.ready) this.#onFatal?.(new Error(`connection ${c.id}: ${why}`));
      } else if (f.t !== "msg") this.malformed++;
    },
    control: (c, op, body) => {
      if (op === 9) c.send(10, body);
      else if (op === 8) c.socket?.end();
    },
    failed: (c, why) => {
      this.#fail(`connection ${c.id}: ${why}`);
      c.socket?.end();
      if (!c.ready) this.#onFatal?.(new Error(`connection ${c.id}: ${why}`));
    },
  };

  #delivery(c: WsConn, r: Role, buf: Uint8Array, start: number, end: number): void {
    if (!tailOk(buf, end)) {
      this.malformed++;
      return;
    }
    const n = readN(buf, end);
    this.deliveries++;
    if (this.o.ingest) {
      // Listeners see every device; the topic says which. The first listener counts losses.
      if (c.id === 0) {
        const topic = (unpackr.unpack(buf.subarray(start, end)) as { topic: string }).topic;
        const d = Number(topic.slice(topic.lastIndexOf(".d") + 2));
        if (!(d >= 0 && d < this.#seen.length)) this.stray++;
        else if (n > this.#seen[d]!) {
          this.lost += n - this.#seen[d]! - 1;
          this.#seen[d] = n;
        } else this.dup++;
      }
    } else {
      const K = this.o.topics;
      const s = K === 1 ? 0 : (n - 1) % K;
      const slot = r.wildcard ? s : r.streams.indexOf(s);
      if (slot < 0) this.stray++;
      else {
        const cnt = K === 1 ? n : Math.floor((n - 1) / K) + 1;
        const last = r.last[slot]!;
        if (cnt > last) {
          this.lost += cnt - last - 1;
          r.last[slot] = cnt;
        } else this.dup++;
      }
    }
    if (--this.#sampleCountdown === 0) {
      this.#sampleCountdown = this.o.sample;
      if (recordUs(this.hist, Math.round((wallMs() - readTs(buf, end)) * 1000))) this.negative++;
    }
  }

  #markReady(c: WsConn): void {
    if (c.ready) return;
    c.ready = true;
    if (++this.#ready === this.conns.length) this.#onReady?.();
  }

  /** Opens every connection, `concurrency` at a time, and waits until each is subscribed (or publishing-ready). */
  async connect(concurrency = 64, timeoutMs = 120_000): Promise<void> {
    const { subs, wildcards, publishers } = this.o;
    const total = subs + wildcards + publishers;
    const t0 = performance.now();
    const ready = new Promise<void>((resolve, reject) => {
      this.#onReady = resolve;
      this.#onFatal = reject;
    });
    const timer = setTimeout(() => this.#onFatal?.(new Error(`only ${this.#ready} of ${total} connections ready after ${timeoutMs / 1000} s${this.failures.length ? `: ${this.failures[0]}` : ""}`)), timeoutMs);
    ready.catch(() => {}); // awaited below; a rejection before then is not unhandled
    try {
      for (let i = 0; i < total; i += concurrency) {
        const batch: Promise<WsConn>[] = [];
        for (let j = i; j < Math.min(total, i + concurrency); j++) {
          this.roles.push(this.#role(j));
          batch.push(openConn(this.target, j, this.#sink, { onClose: () => this.closed++ }));
        }
        this.conns.push(...(await Promise.all(batch)));
      }
      await ready;
    } finally {
      clearTimeout(timer);
    }
    this.connectMs = performance.now() - t0;
    this.#pubConns = this.conns.slice(subs + wildcards);
    const streams = this.o.ingest ? publishers : this.o.topics;
    this.#frames = Array.from({ length: streams }, (_, k) => pubFrame(this.topic(k), this.o.payload));
  }

  /** Highest tick below which every subscriber has everything it was due (fan-out and topics). */
  #credit(): number {
    const K = this.o.topics;
    let min = Infinity;
    for (let i = 0; i < this.o.subs + this.o.wildcards; i++) {
      const r = this.roles[i]!;
      if (this.conns[i]!.closed) continue;
      for (let k = 0; k < r.last.length; k++) min = Math.min(min, r.last[k]! * K + (r.wildcard ? k : r.streams[k]!));
    }
    return min;
  }

  #publishOne(): void {
    const n = ++this.published;
    let k: number;
    let tick: number;
    if (this.o.ingest) {
      k = (n - 1) % this.#frames.length;
      tick = ++this.#sent[k]!;
    } else {
      k = (n - 1) % this.o.topics;
      tick = n;
    }
    const f = this.#frames[k]!;
    stamp(f, f.length, tick, wallMs());
    // Ingest: device k publishes its own topic; otherwise one publisher keeps every topic in order.
    const conn = this.o.ingest ? this.#pubConns[k]! : this.#pubConns[0]!;
    conn.send(2, f);
  }

  /**
   * Publishes `rate` per second in all, or as fast as the subscribers keep
   * up (`rate` 0: at most `window` ticks ahead of the slowest one), for at
   * most `maxSeconds`.
   */
  start(rate: number, window: number, maxSeconds: number): void {
    const t0 = performance.now();
    const base = this.published;
    this.#timer = setInterval(() => {
      const now = performance.now();
      if (now - t0 > maxSeconds * 1000) return this.stop();
      if (rate > 0) {
        const due = Math.floor(((now - t0) * rate) / 1000) - (this.published - base);
        for (let i = 0; i < due; i++) this.#publishOne();
      } else {
        const credit = this.o.ingest ? this.published : this.#credit();
        for (let i = 0; i < 64 && this.published - credit < window; i++) this.#publishOne();
      }
    }, rate > 0 ? 2 : 1);
  }

  /** One publication, outside any window (the connections scenario's broadcast). */
  publishOnce(): void {
    this.#publishOne();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  counts(): LoadCounts {
    return { t: wallMs(), deliveries: this.deliveries, published: this.published, lost: this.lost, dup: this.dup, malformed: this.malformed, stray: this.stray, errorFrames: this.errorFrames, closed: this.closed, failures: [...this.failures] };
  }

  /** Starts a window: resets the histogram, returns the counters. */
  mark(): LoadCounts {
    this.hist.reset();
    this.negative = 0;
    return this.counts();
  }

  latency() {
    return latencyOf(this.hist, this.negative);
  }

  /** Ticks not yet received that were due: each subscription's, or the first listener's per device. */
  missing(): number {
    if (this.o.ingest) return this.#sent.reduce((a, s, d) => a + Math.max(0, s - this.#seen[d]!), 0);
    const K = this.o.topics;
    const p = this.published;
    const dueOn = (s: number) => (p > s ? Math.floor((p - 1 - s) / K) + 1 : 0);
    let missing = 0;
    for (let i = 0; i < this.o.subs + this.o.wildcards; i++) {
      const r = this.roles[i]!;
      if (this.conns[i]!.closed) continue;
      for (let k = 0; k < r.last.length; k++) missing += Math.max(0, dueOn(r.wildcard ? k : r.streams[k]!) - r.last[k]!);
    }
    return missing;
  }

  /** After publishing stopped: waits for the tail (at most `timeoutMs`), then counts what never came as lost. */
  async final(timeoutMs: number): Promise<LoadCounts & { missing: number }> {
    const until = performance.now() + timeoutMs;
    while (performance.now() < until && this.missing() > 0) await sleep(10);
    const missing = this.missing();
    const c = this.counts();
    return { ...c, missing, lost: c.lost + missing };
  }

  close(): void {
    this.stop();
    for (const c of this.conns) c.socket?.end();
  }
}
