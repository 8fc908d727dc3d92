/**
 * Inputs the micro-benchmarks share: msgpack payloads and frames of a
 * given size, and the size sweeps. Under `--smoke` (the test's tiny run)
 * every sweep keeps only its first value, so each benchmark runs once.
 * @module
 */
import { packr } from "../../src/protocol/codec.ts";

/** Set by bench/micro/run.ts before the *.bench.ts files are imported. */
export const micro = { smoke: false };

/** A size sweep, reduced to its first value under `--smoke`. */
export function sweep<T>(values: T[]): T[] {
  return micro.smoke ? values.slice(0, 1) : values;
}

export const SIZES = ["64 B", "1 KiB", "16 KiB"];

/** "1 KiB" → 1024. */
export function bytes(size: string): number {
  const m = /^(\d+) (B|KiB)$/.exec(size);
  if (!m) throw new Error(`size '${size}' is not 'N B' or 'N KiB'`);
  return Number(m[1]) * (m[2] === "KiB" ? 1024 : 1);
}

interface Tick {
  sym: string;
  px: number;
  qty: number;
  ts: number;
}

/**
 * A msgpack payload of about `size` bytes (never less than one tick) shaped
 * like a feed's: a map holding an array of small tick maps. `sym` may carry
 * non-ASCII text, which sends the scanner through its UTF-8 check.
 */
export function ticksPayload(size: number, sym = "BTC-USD"): Uint8Array {
  const ticks: Tick[] = [];
  let out = packr.pack({ feed: "spot", ticks });
  for (let i = 0; out.length < size; i++) {
    ticks.push({ sym, px: 64_000 + i * 0.25, qty: (i % 7) + 0.5, ts: 1_700_000_000_000 + i });
    out = packr.pack({ feed: "spot", ticks });
  }
  return out;
}

/** A client `pub` frame whose data is `ticksPayload(size)`, as a socket would carry it. */
export function pubFrame(size: number, sym?: string): Uint8Array {
  return packr.pack({ t: "pub", topic: "market.spot.btc-usd", data: packr.unpack(ticksPayload(size, sym)) });
}

/** What a mitata generator benchmark receives: the current value of each `.args` sweep. */
export interface BenchState {
  get(name: string): unknown;
}
