/**
 * Publish→send latency, sampled: one publication in `every` is timed from
 * its arrival to the end of its native fan-out. Samples wait in a ring for
 * whoever reads them (the metrics endpoint), so the hot path pays a counter
 * increment and, when sampling, two clock reads.
 * @module
 */
export class LatencySampler {
  readonly #ring: Float64Array;
  #written = 0;
  #tick = 0;

  constructor(
    readonly every = 16,
    size = 4096,
  ) {
    this.#ring = new Float64Array(size);
  }

  /** True for the publications to time. */
  due(): boolean {
    return ++this.#tick % this.every === 0;
  }

  record(ms: number): void {
    this.#ring[this.#written++ % this.#ring.length] = ms;
  }

  /** Samples written since `from` (a previous return value's `next`); older ones may be lost. */
  since(from: number): { samples: number[]; next: number } {
    const start = Math.max(from, this.#written - this.#ring.length);
    const samples: number[] = [];
    for (let i = start; i < this.#written; i++) samples.push(this.#ring[i % this.#ring.length]!);
    return { samples, next: this.#written };
  }
}
