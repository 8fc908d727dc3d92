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
  /** Publications held right now, over every window. */
  #pending = 0;

  constructor(
    readonly fan: FanOut,
    readonly index: ChannelIndex,
  ) {}

  get pending(): number {
    return this.#pending;
  }

  /** Hands a sequenced publication to the native fan-out now or later, by its topic's `linger`. */
  add(pub: Publication, topic: Topic, arrivedAt: number | undefined): void {
    const linger = topic.policy.linger;
    if (linger === 0) return this.#now(pub, topic, arrivedAt);
    if (linger === "adaptive") {
      if (this.#flight === undefined) {
        this.#flight = setTimeout(this.#land, ADAPTIVE_FLIGHT_MS);
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

  readonly #land = (): void => {
    if (this.#adaptive.length === 0) {
      this.#flight = undefined;
      return;
    }
    // An adaptive topic's publication that went "at once" may still wait for the end of its turn: it goes first.
    this.#flushTurn();
    this.#flight = setTimeout(this.#land, ADAPTIVE_FLIGHT_MS);
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
