/**
 * A session's subscriptions, subscription key → channel. Most connections
 * hold one, and a `Map` with one entry costs ~300 bytes (its hash table),
 * so the first is kept in two fields and a `Map` is made only for more.
 * Iteration is in insertion order, as a `Map`'s. O(1) per operation.
 * @module
 */
import type { Channel } from "./channel.ts";

export class Subscriptions {
  /** The one entry while there is no `Map`; once there is, everything after it goes there. */
  #key: string | undefined;
  #channel: Channel | undefined;
  #more: Map<string, Channel> | null = null;

  get size(): number {
    return (this.#key === undefined ? 0 : 1) + (this.#more?.size ?? 0);
  }

  get(key: string): Channel | undefined {
    return key === this.#key ? this.#channel : this.#more?.get(key);
  }

  has(key: string): boolean {
    return key === this.#key || (this.#more?.has(key) ?? false);
  }

  set(key: string, channel: Channel): void {
    if (key === this.#key) this.#channel = channel;
    else if (this.#key === undefined && (this.#more === null || this.#more.size === 0)) {
      this.#key = key;
      this.#channel = channel;
    } else (this.#more ??= new Map()).set(key, channel);
  }

  delete(key: string): boolean {
    if (key !== this.#key) return this.#more?.delete(key) ?? false;
    this.#key = undefined;
    this.#channel = undefined;
    return true;
  }

  /** A snapshot: the caller may delete while it iterates. */
  values(): Channel[] {
    const out: Channel[] = this.#channel === undefined ? [] : [this.#channel];
    if (this.#more !== null) for (const ch of this.#more.values()) out.push(ch);
    return out;
  }
}
