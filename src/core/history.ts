/**
 * A topic's recent publications, bounded by count and by age, for recovery.
 * Sequence numbers in a topic are contiguous, so "everything after seq N"
 * is a slice found by arithmetic, not a search.
 * @module
 */
import type { Publication } from "./publication.ts";

export class History {
  readonly #ring: (Publication | undefined)[];
  #start = 0;
  #len = 0;

  constructor(
    readonly size: number,
    readonly ttlMs: number,
  ) {
    this.#ring = new Array(size);
  }

  /** Stores `pub`, dropping what aged out first, so a busy topic holds only its window whoever reads it. */
  push(pub: Publication): void {
    this.#trim(pub.ts);
    const size = this.size;
    if (this.#len < size) {
      this.#ring[(this.#start + this.#len) % size] = pub;
      this.#len++;
    } else {
      this.#ring[this.#start] = pub;
      this.#start = (this.#start + 1) % size;
    }
  }

  /** Publications stored right now, aged ones included until the next push or read. */
  get stored(): number {
    return this.#len;
  }

  /** Publications held, after dropping those past the age limit. */
  held(now: number): number {
    this.#trim(now);
    return this.#len;
  }

  #trim(now: number): void {
    if (this.ttlMs === 0) return;
    const cutoff = now - this.ttlMs;
    while (this.#len > 0 && this.#ring[this.#start]!.ts < cutoff) {
      this.#ring[this.#start] = undefined;
      this.#start = (this.#start + 1) % this.size;
      this.#len--;
    }
  }

  /**
   * Publications with seq greater than `after`, oldest first; `null` when
   * some of them are no longer held (evicted by count or age).
   */
  since(after: number, latest: number, now = Date.now()): Publication[] | null {
    if (after >= latest) return [];
    this.#trim(now);
    if (this.#len === 0) return null;
    const first = this.#ring[this.#start]!.seq;
    if (after + 1 < first) return null;
    const out: Publication[] = [];
    for (let i = after + 1 - first; i < this.#len; i++) out.push(this.#ring[(this.#start + i) % this.size]!);
    return out;
  }
}
