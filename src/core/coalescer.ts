/**
 * Write coalescing: when a sequenced publication reaches the native fan-out.
 *
 * - `linger: 0` (the default): at once, unless a channel it reaches has
 *   subscribers that take batch frames (or publications of this turn are
 *   already waiting): then at the end of the event-loop turn, with every
 *   other publication of that turn, so a burst (several `pub` frames in one
 *   read, a loop of `server.publish`) becomes one batch frame per channel.
 * - `linger: N`: held at most N ms. Every topic with the same N shares one
 *   window (a `prices.>` subscriber's ticks come from many topics), and the
 *   window's publications go out together in one turn.
 * - `linger: "adaptive"` (Nagle's rule): a publication arriving while no
 *   adaptive fan-out is in flight goes out at once and starts a flight; the
 *   flight lands when the event loop comes back to its timers, at least
 *   {@link ADAPTIVE_FLIGHT_MS} later — on a busy server later, once the
 *   writes it caused are done. Publications arriving meanwhile are held; at
 *   landing they go out together and start the next flight. A flight that
 *   lands with nothing held leaves the adaptive topics idle. So a topic
 *   ticking slower than the flight is never held, and a fast one is held
 *   for at most about one flight. All adaptive topics share the flight.
 *   While the process is busy (its CPU over the last flight, see
 *   {@link FlightSizer}) the writes are what it waits on: flights lengthen,
 *   up to {@link ADAPTIVE_MAX_FLIGHT_MS}, so more publications share each
 *   write; on a lightly loaded server they stay at the shortest.
 *
 * Only the hand-off waits: seq, history and retained values were assigned
 * when the publication was published. A topic's publications always take
 * the same road, so their order holds. Cost: one array push per held
 * publication and one timer per window, never per subscriber.
 * @module
 */
import type { ChannelIndex } from "./channel-index.ts";
import type { Held } from "./channel.ts";
import type { FanOut } from "./fanout.ts";
import type { Publication } from "./publication.ts";
import type { Topic } from "./topic.ts";

/** The shortest adaptive flight: Bun's and Node's timers are ms-grained. */
export const ADAPTIVE_FLIGHT_MS = 2;
/** The longest: what a busy stream's publications can be held (a `linger: 10`). */
export const ADAPTIVE_MAX_FLIGHT_MS = 10;
/** CPU share over a flight (CPU time ÷ wall time) at and above which the process counts as busy. */
export const BUSY_SHARE = 0.5;
/** … and below which it counts as lightly loaded; in between a flight keeps its length (no see-saw). */
export const LIGHT_SHARE = 0.25;

/**
 * How long the next adaptive flight is. One reading of the process's CPU
 * time per flight (a few hundred a second at most), none per publication:
 * a flight that landed with publications held while the process was busy
 * doubles the next one (to the max); one that landed on a lightly loaded
 * process halves it (to the min). Coalescing lowers the CPU it measures,
 * so the band between the two shares keeps a length that works.
 */
export class FlightSizer {
  ms = ADAPTIVE_FLIGHT_MS;
  #cpuUs = 0;
  #wallMs = 0;

  constructor(
    /** Process CPU time (user + system) in µs; injectable for tests. */
    readonly cpuUs: () => number = () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    },
    readonly now: () => number = () => performance.now(),
  ) {}

  /** A flight takes off. */
  start(): void {
    this.#cpuUs = this.cpuUs();
    this.#wallMs = this.now();
  }

  /** A flight landed with `held` publications waiting; returns the next flight's length. */
  landed(held: number): number {
    if (held === 0) return (this.ms = ADAPTIVE_FLIGHT_MS);
    const wall = this.now() - this.#wallMs;
    const share = wall > 0 ? (this.cpuUs() - this.#cpuUs) / 1000 / wall : 0;
    if (share >= BUSY_SHARE) this.ms = Math.min(ADAPTIVE_MAX_FLIGHT_MS, this.ms * 2);
    else if (share < LIGHT_SHARE) this.ms = Math.max(ADAPTIVE_FLIGHT_MS, this.ms / 2);
    return this.ms;
  }
}

interface Window {
  held: Held[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class Coalescer {
  /** Fixed-linger windows, by linger in ms. */
  readonly #fixed = new Map<number, Window>();
  #turn: Held[] = [];
  #turnScheduled = false;
  #adaptive: Held[] = [];
  #flight: ReturnType<typeof setTimeout> | undefined;
  readonly #sizer: FlightSizer;
  /** Publications held right now, over every window. */
  #pending = 0;

  constructor(
    readonly fan: FanOut,
    readonly index: ChannelIndex,
    sizer: FlightSizer = new FlightSizer(),
  ) {
    this.#sizer = sizer;
  }

  get pending(): number {
    return this.#pending;
  }

  /** Hands a sequenced publication to the native fan-out now or later, by its topic's `linger`. */
  add(pub: Publication, topic: Topic, arrivedAt: number | undefined): void {
    const linger = topic.policy.linger;
    if (linger === 0) return this.#now(pub, topic, arrivedAt);
    if (linger === "adaptive") {
      if (this.#flight === undefined) {
        this.#takeOff(ADAPTIVE_FLIGHT_MS);
        return this.#now(pub, topic, arrivedAt);
      }
      this.#adaptive.push({ pub, topic, arrivedAt });
      this.#pending++;
      return;
    }
    let w = this.#fixed.get(linger);
    if (w === undefined) this.#fixed.set(linger, (w = { held: [], timer: undefined }));
    w.held.push({ pub, topic, arrivedAt });
    this.#pending++;
    w.timer ??= setTimeout(() => this.#flushWindow(w), linger);
  }

  #now(pub: Publication, topic: Topic, arrivedAt: number | undefined): void {
    // Something of this turn waits already: join it, so a topic's order holds.
    if (this.#turn.length > 0) {
      this.#turn.push({ pub, topic, arrivedAt });
      this.#pending++;
      return;
    }
    const chans = this.index.match(pub.topic);
    for (let i = 0; i < chans.length; i++) {
      if (!chans[i]!.batching) continue;
      this.#turn.push({ pub, topic, arrivedAt });
      this.#pending++;
      if (!this.#turnScheduled) {
        this.#turnScheduled = true;
        setImmediate(this.#endOfTurn);
      }
      return;
    }
    this.fan.one(pub, topic, chans, arrivedAt);
  }

  readonly #endOfTurn = (): void => {
    this.#turnScheduled = false;
    this.#flushTurn();
  };

  #flushTurn(): void {
    if (this.#turn.length === 0) return;
    const items = this.#turn;
    this.#turn = [];
    this.#pending -= items.length;
    this.fan.many(items);
  }

  #takeOff(ms: number): void {
    this.#sizer.start();
    this.#flight = setTimeout(this.#land, ms);
  }

  readonly #land = (): void => {
    const next = this.#sizer.landed(this.#adaptive.length);
    if (this.#adaptive.length === 0) {
      this.#flight = undefined;
      return;
    }
    // An adaptive topic's publication that went "at once" may still wait for the end of its turn: it goes first.
    this.#flushTurn();
    this.#takeOff(next);
    this.#flushAdaptive();
  };

  #flushAdaptive(): void {
    if (this.#adaptive.length === 0) return;
    const items = this.#adaptive;
    this.#adaptive = [];
    this.#pending -= items.length;
    this.fan.many(items);
  }

  #flushWindow(w: Window): void {
    clearTimeout(w.timer);
    w.timer = undefined;
    if (w.held.length === 0) return;
    const items = w.held;
    w.held = [];
    this.#pending -= items.length;
    this.fan.many(items);
  }

  /**
   * Hands everything held to the native fan-out now. A subscription joins
   * or leaves only after this, so it sees exactly the publications it would
   * have seen without coalescing: none published before its ack, every one
   * after (see `Broker#join`).
   */
  flushAll(): void {
    if (this.#pending === 0) return;
    this.#flushTurn();
    this.#flushAdaptive();
    for (const w of this.#fixed.values()) this.#flushWindow(w);
  }

  /** Flushes what is held and stops the timers (shutdown). */
  stop(): void {
    this.flushAll();
    clearTimeout(this.#flight);
    this.#flight = undefined;
  }
}
