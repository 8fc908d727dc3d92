/**
 * The msgpack publication frame, written by hand: it is built once per
 * publication on the hot path, and packing a fresh header object with
 * msgpackr cost about half of tickgate's per-publication time. The parts
 * that only depend on the topic and epoch are encoded once and cached; the
 * rest (seq, ts, key, tags) is written straight into one buffer, followed by
 * the payload's bytes as they came.
 *
 * Output decodes exactly as `packr.pack({t, topic, seq, epoch, ts, key?, tags?, data})`
 * would: same keys, same order, integers below 2^32 as uint, others and ts
 * as float64 (a property test checks it).
 * @module
 */
import { packr } from "./codec-packr.ts";

export interface PublicationHeader {
  topic: string;
  seq: number;
  epoch: string;
  ts: number;
  key?: string | undefined;
  tags?: readonly string[] | undefined;
}

interface Parts {
  epoch: string;
  /** "t" "msg" "topic" <topic> "seq" */
  head: Uint8Array;
  /** "epoch" <epoch> "ts" */
  mid: Uint8Array;
}

const cache = new Map<string, Parts>();
const CACHE_LIMIT = 100_000;
const KEY = packr.pack("key");
const TAGS = packr.pack("tags");
const DATA = Uint8Array.of(0xa4, 0x64, 0x61, 0x74, 0x61); // "data"

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Drops a topic's cached header parts (the server evicted the topic). */
export function forgetTopicParts(topic: string): void {
  cache.delete(topic);
}

function parts(topic: string, epoch: string): Parts {
  let p = cache.get(topic);
  if (p === undefined || p.epoch !== epoch) {
    p = {
      epoch,
      head: concat(packr.pack("t"), packr.pack("msg"), packr.pack("topic"), packr.pack(topic), packr.pack("seq")),
      mid: concat(packr.pack("epoch"), packr.pack(epoch), packr.pack("ts")),
    };
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(topic, p);
  }
  return p;
}

/** Bytes a number takes, written as msgpackr writes it (uint below 2^32, else float64). */
function numberSize(n: number): number {
  if (Number.isInteger(n) && n >= 0 && n < 0x1_0000_0000) return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  return 9;
}

// One scratch for float64 bytes: a DataView per frame showed in the ingest
// profile (~10% of the publish path), shifting bytes by hand does not.
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function writeNumber(out: Uint8Array, o: number, n: number): number {
  if (Number.isInteger(n) && n >= 0 && n < 0x1_0000_0000) {
    if (n < 0x80) {
      out[o] = n;
      return o + 1;
    }
    if (n < 0x100) {
      out[o] = 0xcc;
      out[o + 1] = n;
      return o + 2;
    }
    if (n < 0x10000) {
      out[o] = 0xcd;
      out[o + 1] = n >>> 8;
      out[o + 2] = n & 0xff;
      return o + 3;
    }
    out[o] = 0xce;
    out[o + 1] = n >>> 24;
    out[o + 2] = (n >>> 16) & 0xff;
    out[o + 3] = (n >>> 8) & 0xff;
    out[o + 4] = n & 0xff;
    return o + 5;
  }
  out[o] = 0xcb;
  F64[0] = n;
  // msgpack is big-endian.
  if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) out[o + 1 + i] = F64_BYTES[7 - i]!;
  else out.set(F64_BYTES, o + 1);
  return o + 9;
}

/**
 * The publication frame: header fields, then `data` with the payload's
 * msgpack bytes appended untouched (copied once, never re-encoded).
 */
export function encodePublicationMsgpack(h: PublicationHeader, raw: Uint8Array): Uint8Array {
  const p = parts(h.topic, h.epoch);
  // Key and tags are rare and short; msgpackr's string and array encoding is fine there.
  const key = h.key === undefined ? undefined : packr.pack(h.key);
  const tags = h.tags === undefined ? undefined : packr.pack(h.tags);
  const fields = 6 + (key ? 1 : 0) + (tags ? 1 : 0);
  const size =
    1 + p.head.length + numberSize(h.seq) + p.mid.length + numberSize(h.ts) +
    (key ? KEY.length + key.length : 0) + (tags ? TAGS.length + tags.length : 0) + DATA.length + raw.length;
  const out = new Uint8Array(size);
  out[0] = 0x80 | fields;
  out.set(p.head, 1);
  let o = writeNumber(out, 1 + p.head.length, h.seq);
  out.set(p.mid, o);
  o = writeNumber(out, o + p.mid.length, h.ts);
  if (key) {
    out.set(KEY, o);
    out.set(key, o + KEY.length);
    o += KEY.length + key.length;
  }
  if (tags) {
    out.set(TAGS, o);
    out.set(tags, o + TAGS.length);
    o += TAGS.length + tags.length;
  }
  out.set(DATA, o);
  out.set(raw, o + DATA.length);
  return out;
}
