/**
 * One subscription (topic or pattern, and its filter if it has one) as the
 * client tracks it: its handlers, whether the current connection holds it,
 * and the last `(epoch, seq)` seen per concrete topic. The positions do two jobs: they drop
 * publications already delivered (replays, and the copies a connection with
 * overlapping subscriptions receives), and they say where to recover from
 * after a reconnect.
 * @internal
 * @module
 */
import { canonicalFilter, compileFilter, type FilterFn, type FilterSpec } from "../protocol/filter-core.ts";
import type { AckFrame, PublicationFrame, RecoverPosition } from "../protocol/wire.ts";
import { isPattern, matches } from "../protocol/topic.ts";

/** What a handler learns about a publication besides its data. */
export interface MessageMeta {
  /** The concrete topic it was published on (never a pattern). */
  topic: string;
  /** Per-topic sequence number; consecutive within one epoch. */
  seq: number;
  /** Identity of the server's numbering; `seq` values compare only within one epoch. */
  epoch: string;
  /** When the server accepted it, ms since the Unix epoch. */
  ts: number;
  /** The publisher's conflation / retention key, when it gave one. */
  key?: string;
  /** The publication's tags (what subscription filters select on), when it has any. */
  tags?: readonly string[];
}

/** Why a subscription missed publications; see the `gap` event. */
export type GapInfo =
  | {
      /** The server skipped publications for a slow reader (`gap` frame). */
      type: "gap";
      /** The subscription string (may be a pattern). */
      subscription: string;
      /** `"dropped"` (gone) or `"conflated"` (the latest value per key follows). */
      reason: string;
      /** How many publications were not delivered. */
      count: number;
    }
  | {
      /** A resubscription could not replay everything missed while disconnected. */
      type: "recovery-failed";
      subscription: string;
      /**
       * `"epoch"`: the server's numbering restarted (e.g. a restart), nothing could be replayed.
       * `"window"`: part of what was missed is older than the server's history keeps.
       * `"truncated"`: the client had seen too many topics of a pattern to name them all when resubscribing.
       */
      reason: "epoch" | "window" | "truncated";
      /** The epoch the subscription continues in. */
      epoch: string;
      /** For an exact topic: its latest seq when the subscription resumed. */
      seq?: number;
      /** Publications that were replayed anyway (other topics of a pattern). */
      replayed: number;
    };

/** A subscription's callbacks. @internal */
export interface HandlerEntry {
  fn: (data: unknown, meta: MessageMeta) => void;
  onGap?: ((info: GapInfo) => void) | undefined;
}

interface Position {
  epoch: string;
  seq: number;
  /** Recency, for choosing which topics to name when a recover frame must be cut. */
  touched: number;
}

/**
 * A subscription's identity, as on the server: the topic or pattern, then
 * `#` and the canonical filter for a filtered one. Two filters with the
 * same tag sets (in any order, with repeats) are the same subscription.
 * @internal
 */
export function subscriptionKey(topic: string, filter: FilterSpec | undefined): string {
  return filter ? `${topic}#${canonicalFilter(filter)}` : topic;
}

/** @internal */
export class SubscriptionState {
  readonly pattern: boolean;
  /** Topic, or topic `#` canonical filter: see {@link subscriptionKey}. */
  readonly key: string;
  /** The filter's check; null for an unfiltered subscription. */
  readonly pass: FilterFn | null;
  readonly handlers = new Set<HandlerEntry>();
  /** `idle`: not held on the current connection; `pending`: sub sent, no ack yet; `active`: acked. */
  status: "idle" | "pending" | "active" = "idle";
  /** Epoch of the last ack. Unknown until the server first acknowledged the subscription. */
  epoch: string | undefined;
  /** Exact topics: the topic's latest seq at the last ack, the starting point if no publication arrived since. */
  baseline: number | undefined;
  readonly #positions = new Map<string, Position>();
  #clock = 0;

  constructor(
    readonly topic: string,
    /** As given to `subscribe` (a copy), sent in every `sub` and `unsub`. */
    readonly filter?: FilterSpec,
  ) {
    this.pattern = isPattern(topic);
    this.key = subscriptionKey(topic, filter);
    this.pass = filter ? compileFilter(filter) : null;
  }

  covers(topic: string): boolean {
    return this.pattern ? matches(this.topic, topic) : this.topic === topic;
  }

  /**
   * Whether a publication is new for this subscription; records it if so.
   * Within one epoch a topic's seq only grows, so anything at or below the
   * last seen seq was delivered already.
   */
  accept(f: PublicationFrame): boolean {
    const p = this.#positions.get(f.topic);
    if (p === undefined) {
      this.#positions.set(f.topic, { epoch: f.epoch, seq: f.seq, touched: ++this.#clock });
      return true;
    }
    if (p.epoch === f.epoch && f.seq <= p.seq) return false;
    p.epoch = f.epoch;
    p.seq = f.seq;
    p.touched = ++this.#clock;
    return true;
  }

  /** Last seq seen on `topic` in the subscription's epoch. */
  position(topic: string): number | undefined {
    const p = this.#positions.get(topic);
    return p && p.epoch === this.epoch ? p.seq : undefined;
  }

  /**
   * Where to resume, for the `recover` field of the resubscribe; undefined
   * for a subscription the server never acknowledged. `maxTopicBytes` bounds
   * a pattern's topic list (it must fit in one frame); `truncated` says
   * whether topics had to be left out.
   */
  recoverPosition(maxTopicBytes: number): { recover: RecoverPosition; truncated: boolean } | undefined {
    const epoch = this.epoch;
    if (epoch === undefined) return undefined;
    if (!this.pattern) {
      const seq = this.position(this.topic) ?? this.baseline;
      return seq === undefined ? undefined : { recover: { epoch, seq }, truncated: false };
    }
    const all = [...this.#positions.entries()].filter(([, p]) => p.epoch === epoch);
    all.sort((a, b) => b[1].touched - a[1].touched);
    const topics: Record<string, number> = {};
    let bytes = 0;
    let truncated = false;
    for (const [t, p] of all) {
      bytes += t.length + 12;
      if (bytes > maxTopicBytes) {
        truncated = true;
        break;
      }
      topics[t] = p.seq;
    }
    return { recover: { epoch, topics }, truncated };
  }

  /** Every topic's position in the subscription's epoch (for the SSE cursor). */
  positions(): Iterable<[string, number]> {
    const out: [string, number][] = [];
    for (const [t, p] of this.#positions) if (p.epoch === this.epoch) out.push([t, p.seq]);
    if (!this.pattern && out.length === 0 && this.baseline !== undefined) out.push([this.topic, this.baseline]);
    return out;
  }

  /**
   * Applies a subscribe ack. A failed recovery forgets the positions it
   * could not honour, so what the server sends next — retained values as a
   * fresh snapshot, then live publications — is accepted, whatever its seq.
   */
  acked(ack: Pick<AckFrame, "seq" | "epoch" | "recovery">): void {
    this.status = "active";
    if (ack.epoch !== undefined) this.epoch = ack.epoch;
    if (!this.pattern && ack.seq !== undefined) this.baseline = ack.seq;
    const r = ack.recovery;
    if (r && !r.ok) {
      // For a pattern the ack does not say which of its topics failed, so
      // every position goes; replayed publications for the others still
      // arrive in order and nothing after them is a repeat.
      this.#positions.clear();
    }
  }
}
