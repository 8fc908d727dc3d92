/**
 * Finds the channels a publication goes to: the exact channel for its topic
 * plus every pattern channel that matches. Results are cached per topic and
 * the cache is dropped when the set of patterns changes, so a publish costs
 * one Map lookup plus one native publish per matching channel, however many
 * subscribers each has.
 * @module
 */
import { canonicalFilter, compileFilter, type Filter } from "../protocol/filter.ts";
import { isPattern, matches } from "../protocol/topic.ts";
import { Channel } from "./channel.ts";
import type { PolicyTable } from "./policy.ts";

const NONE: readonly Channel[] = Object.freeze([]);
const CACHE_LIMIT = 200_000;

export class ChannelIndex {
  readonly #channels = new Map<string, Channel>();
  /** Exact topic → its channels (unfiltered and one per distinct filter). */
  readonly #exact = new Map<string, Channel[]>();
  readonly #patterns = new Map<string, Channel>();
  readonly #cache = new Map<string, readonly Channel[]>();

  constructor(readonly policies: PolicyTable) {}

  get(key: string): Channel | undefined {
    return this.#channels.get(key);
  }

  /** The subscription key for a topic or pattern and an optional filter. */
  static keyOf(base: string, filter?: Filter): string {
    return filter ? `${base}#${canonicalFilter(filter)}` : base;
  }

  getOrCreate(base: string, filter?: Filter): Channel {
    const key = ChannelIndex.keyOf(base, filter);
    let ch = this.#channels.get(key);
    if (ch) return ch;
    const pattern = isPattern(base);
    ch = new Channel(key, base, pattern, this.policies.for(base), filter ? compileFilter(filter) : null);
    this.#channels.set(key, ch);
    if (pattern) {
      this.#patterns.set(key, ch);
      this.#cache.clear();
    } else {
      const list = this.#exact.get(base);
      if (list) list.push(ch);
      else this.#exact.set(base, [ch]);
      this.#cache.delete(base);
    }
    return ch;
  }

  /** Forgets a channel once nobody is subscribed to it. */
  release(ch: Channel): void {
    if (ch.members.size > 0) return;
    this.#channels.delete(ch.key);
    // A subscription to a topic nobody publishes on never makes a Topic, so
    // eviction would never drop the policy cached for it; a held topic only
    // looks its policy up again.
    this.policies.forget(ch.base);
    if (ch.isPattern) {
      this.#patterns.delete(ch.key);
      this.#cache.clear();
    } else {
      const list = this.#exact.get(ch.base)!.filter((c) => c !== ch);
      if (list.length) this.#exact.set(ch.base, list);
      else this.#exact.delete(ch.base);
      this.#cache.delete(ch.base);
    }
  }

  /** Channels a publication on `topic` goes to. */
  match(topic: string): readonly Channel[] {
    const hit = this.#cache.get(topic);
    if (hit !== undefined) return hit;
    const out: Channel[] = [...(this.#exact.get(topic) ?? [])];
    for (const ch of this.#patterns.values()) if (matches(ch.base, topic)) out.push(ch);
    const result = out.length === 0 ? NONE : out;
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(topic, result);
    return result;
  }

  /** Drops a topic's cached match (it was evicted). */
  forget(topic: string): void {
    this.#cache.delete(topic);
  }

  get size(): number {
    return this.#channels.size;
  }

  values(): IterableIterator<Channel> {
    return this.#channels.values();
  }
}
