/**
 * State of one concrete topic: its sequence counter, epoch, retained values
 * and counters. Created on first publish or subscribe.
 * @module
 */
import { History } from "./history.ts";
import type { Policy } from "./options.ts";
import type { Publication } from "./publication.ts";

export class Topic {
  seq = 0;
  published = 0;
  bytesIn = 0;
  deliveries = 0;
  /** Last publication per key (`""` when the publisher gave none), when the policy retains. */
  retained: Map<string, Publication> | null = null;
  readonly history: History | null;

  constructor(
    readonly name: string,
    readonly policy: Policy,
  ) {
    this.history = policy.historySize > 0 ? new History(policy.historySize, policy.historyTtlMs) : null;
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
