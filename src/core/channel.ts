/**
 * A channel is one subscription key (an exact topic or a pattern) and the
 * native fan-out channels behind it, one per encoding and, for connections
 * that take batch frames, one more per encoding. Publication work is per
 * channel; subscribers only appear here for slow-consumer checks.
 * @module
 */
import type { FilterFn } from "../protocol/filter.ts";
import type { Policy } from "./options.ts";
import type { Publication } from "./publication.ts";
import type { Session } from "./session.ts";
import type { Topic } from "./topic.ts";

/** A publication waiting for its channel's batch frame (see `core/fanout.ts`). */
export interface Held {
  readonly pub: Publication;
  readonly topic: Topic;
  /** `performance.now()` when it arrived, for the latency sample; undefined when not sampled. */
  readonly arrivedAt: number | undefined;
}

export interface LagState {
  /** `channel.published` when the subscriber was taken off the native channel. */
  since: number;
  /** When it was taken off (ms), to disconnect a reader that never drains. */
  at: number;
}

export class Channel {
  /** Native channel names; the prefix keeps encodings apart. */
  readonly nativeBinary: string;
  readonly nativeText: string;
  /** Native channels of connections that take batch frames (`B|`, `T|`). */
  readonly batchBinary: string;
  readonly batchText: string;
  /** Native subscribers per encoding; a frame is built only where non-zero. */
  binaryCount = 0;
  textCount = 0;
  /** The same for connections that take batch frames. */
  batchBinaryCount = 0;
  batchTextCount = 0;
  /** Publications of the fan-out under way that go into this channel's batch frame; null between fan-outs. */
  batchHeld: Held[] | null = null;
  readonly members = new Set<Session>();
  /** Subscribers taken off the native channel because they fell behind. */
  readonly lagging = new Map<Session, LagState>();
  /** Publications routed through this channel. */
  published = 0;
  /** Latest publication per conflation key, kept only while someone lags under `conflate`. */
  latest: Map<string, { pub: Publication; n: number }> | null = null;
  /** Bytes sent to each native member since the slow-consumer sweep last looked at them all. */
  unwalked = 0;
  /** Due a look at every member (`unwalked` passed its step); cleared by the sweep. */
  dirty = false;
  dropped = 0;
  conflated = 0;

  constructor(
    /** The subscription key: `base`, plus `#<filter>` for a filtered subscription. */
    readonly key: string,
    /** The topic or pattern subscribed to. */
    readonly base: string,
    readonly isPattern: boolean,
    readonly policy: Policy,
    /** Checked once per publication for the whole channel; null when unfiltered. */
    readonly filter: FilterFn | null = null,
  ) {
    this.nativeBinary = `b|${key}`;
    this.nativeText = `t|${key}`;
    this.batchBinary = `B|${key}`;
    this.batchText = `T|${key}`;
  }

  native(json: boolean, batch = false): string {
    if (batch) return json ? this.batchText : this.batchBinary;
    return json ? this.nativeText : this.nativeBinary;
  }

  countNative(json: boolean, delta: number, batch = false): void {
    if (batch) {
      if (json) this.batchTextCount += delta;
      else this.batchBinaryCount += delta;
    } else if (json) this.textCount += delta;
    else this.binaryCount += delta;
  }

  /** Whether any native subscriber takes batch frames. */
  get batching(): boolean {
    return this.batchBinaryCount + this.batchTextCount > 0;
  }

  /** Records the newest value per key while subscribers lag under `conflate`. */
  rememberLatest(pub: Publication): void {
    const latest = this.latest;
    if (latest === null) return;
    const k = `${pub.topic}\u0000${pub.key ?? ""}`;
    if (!latest.has(k) && latest.size >= this.policy.maxKeys) return; // skipped keys show up in the gap count
    latest.set(k, { pub, n: this.published });
  }
}
