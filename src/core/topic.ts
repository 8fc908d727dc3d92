/**
 * State of one concrete topic: its sequence counter, epoch, retained values
 * and counters. Created on first publish; evicted when idle (see
 * topic-lifecycle.ts), and a topic published to again after that starts a
 * new epoch.
 * @module
 */
import { History } from "./history.ts";
import type { Policy } from "./options.ts";
import type { Publication } from "./publication.ts";

/** A count of live topics someone created, shared by the topics and the quota. */
export interface TopicCount {
  n: number;
  /** The identity it counts for, so it can be dropped at 0; absent for a connection's count. */
  key?: string;
}

export class Topic {
  seq = 0;
  /** Epoch of this topic's sequence numbers (the bus's, and a new one after an eviction). */
  epoch: string;
  /** When it was last published to (ms), or created. */
  lastActive = Date.now();
  /** The quotas this topic counts against; released when it is evicted. */
  owners: readonly TopicCount[] = [];
  published = 0;
  bytesIn = 0;
  deliveries = 0;
  /** Last publication per key (`""` when the publisher gave none), when the policy retains. */
  retained: Map<string, Publication> | null = null;
  readonly history: History | null;

  constructor(
    readonly name: string,
    readonly policy: Policy,
    epoch: string,
  ) {
    this.epoch = epoch;
    this.history = policy.historySize > 0 ? new History(policy.historySize, policy.historyTtlMs) : null;
  }

  /** Drops retained values past the policy's `retainTtlMs`; returns how many are left. */
  expireRetained(now: number): number {
    const map = this.retained;
    if (map === null) return 0;
    const ttl = this.policy.retainTtlMs;
    if (ttl > 0) for (const [k, p] of map) if (p.ts < now - ttl) map.delete(k);
    if (map.size === 0) this.retained = null;
    return map.size;
  }

  retain(pub: Publication): void {
    const map = (this.retained ??= new Map());
    const k = pub.key ?? "";
    if (map.size < this.policy.maxKeys) {
      // Room left: nothing is evicted, so update order does not matter yet and
      // a plain set (no delete + re-insert) keeps this cheap per publication.
      map.set(k, pub);
      return;
    }
    // Full: re-inserting keeps Map order = order of last update, so the
    // least recently updated key is first and is the one evicted.
    if (map.delete(k)) {
      map.set(k, pub);
      return;
    }
    map.delete(map.keys().next().value!);
    map.set(k, pub);
  }
}
