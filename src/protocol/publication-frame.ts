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
import { msgpackNumberSize, writeMsgpackNumber } from "./msgpack-number.ts";

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
    1 + p.head.length + msgpackNumberSize(h.seq) + p.mid.length + msgpackNumberSize(h.ts) +
    (key ? KEY.length + key.length : 0) + (tags ? TAGS.length + tags.length : 0) + DATA.length + raw.length;
  const out = new Uint8Array(size);
  out[0] = 0x80 | fields;
  out.set(p.head, 1);
  let o = writeMsgpackNumber(out, 1 + p.head.length, h.seq);
  out.set(p.mid, o);
  o = writeMsgpackNumber(out, o + p.mid.length, h.ts);
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
