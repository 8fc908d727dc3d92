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
  dropped = 0;
  conflated = 0;
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
    // Re-inserting keeps Map order = order of last update, so the oldest key
    // is first and is the one evicted at maxKeys.
    map.delete(k);
    if (map.size >= this.policy.maxKeys) map.delete(map.keys().next().value!);
    map.set(k, pub);
  }
}
