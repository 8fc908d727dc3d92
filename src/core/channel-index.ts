/**
 * Finds the channels a publication goes to: the exact channel for its topic
 * plus every pattern channel that matches. Results are cached per topic and
 * the cache is dropped when the set of patterns changes, so a publish costs
 * one Map lookup plus one native publish per matching channel, however many
 * subscribers each has.
 * @module
 */
import { isPattern, matches } from "../protocol/topic.ts";
import { Channel } from "./channel.ts";
import type { PolicyTable } from "./policy.ts";

const NONE: readonly Channel[] = Object.freeze([]);
const CACHE_LIMIT = 200_000;

export class ChannelIndex {
  readonly #channels = new Map<string, Channel>();
  readonly #patterns = new Map<string, Channel>();
  readonly #cache = new Map<string, readonly Channel[]>();

  constructor(readonly policies: PolicyTable) {}

  get(key: string): Channel | undefined {
    return this.#channels.get(key);
  }

  getOrCreate(key: string): Channel {
    let ch = this.#channels.get(key);
    if (ch) return ch;
    const pattern = isPattern(key);
    ch = new Channel(key, pattern, this.policies.for(key));
    this.#channels.set(key, ch);
    if (pattern) {
      this.#patterns.set(key, ch);
      this.#cache.clear();
    } else this.#cache.delete(key);
    return ch;
  }

  /** Forgets a channel once nobody is subscribed to it. */
  release(ch: Channel): void {
    if (ch.members.size > 0) return;
    this.#channels.delete(ch.key);
    if (ch.isPattern) {
      this.#patterns.delete(ch.key);
      this.#cache.clear();
    } else this.#cache.delete(ch.key);
  }

  /** Channels a publication on `topic` goes to. */
  match(topic: string): readonly Channel[] {
    const hit = this.#cache.get(topic);
    if (hit !== undefined) return hit;
    const out: Channel[] = [];
    const exact = this.#channels.get(topic);
    if (exact) out.push(exact);
    for (const [p, ch] of this.#patterns) if (matches(p, topic)) out.push(ch);
    const result = out.length === 0 ? NONE : out;
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(topic, result);
    return result;
  }

  get size(): number {
    return this.#channels.size;
  }

  values(): IterableIterator<Channel> {
    return this.#channels.values();
  }
}
