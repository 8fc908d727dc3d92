/**
 * The `pub` frame on its hot path, without zod or msgpackr: the shape check
 * every publication passes, and a reader that takes a msgpack `pub` frame's
 * header fields straight out of its bytes. Every other frame, and any `pub`
 * frame this reader does not take, goes the general way (decode, then the
 * zod schema in `frames.ts`), which also writes every error: a frame
 * refused here is decoded again by that path, so the error codes and
 * messages are the schema's, unchanged. Property tests hold the hand check
 * to the schema's verdicts.
 *
 * Cost: one walk over the frame's top-level entries, a string per header
 * field, and one copy of `data`'s bytes; no header copy, no schema run.
 * @module
 */
import type { Decoded } from "./codec.ts";
import { MAX_TAG_LENGTH, MAX_TAGS } from "./filter-core.ts";
import type { PublishFrame } from "./frames.ts";
import { ScanError, readMapHeader, skipValue } from "./msgpack-scan.ts";
import { LIMITS } from "./wire.ts";

/** A `pub` frame as the schema returns it (`data` is carried apart as the payload). */
export type PubFrame = ReturnType<typeof PublishFrame.parse>;

const isStr = (v: unknown, min: number, max: number): boolean => typeof v === "string" && v.length >= min && v.length <= max;

/**
 * Whether `o` passes the `pub` schema (`PublishFrame`): t "pub"; id absent
 * or a string of ≤ 64 or a safe integer; topic 1–256 characters; key absent
 * or 1–128; tags absent or ≤ 32 strings of 1–64; a `data` key, whatever its
 * value (even undefined). Unknown keys are allowed (the schema drops them).
 */
export function isPubFrame(o: Record<string, unknown>): boolean {
  if (o.t !== "pub" || !Object.hasOwn(o, "data")) return false;
  const id = o.id;
  if (id !== undefined && !(typeof id === "string" ? id.length <= LIMITS.idLength : Number.isSafeInteger(id))) return false;
  if (!isStr(o.topic, 1, LIMITS.topicLength)) return false;
  if (o.key !== undefined && !isStr(o.key, 1, LIMITS.keyLength)) return false;
  const tags = o.tags;
  if (tags !== undefined) {
    if (!Array.isArray(tags) || tags.length > MAX_TAGS) return false;
    for (let i = 0; i < tags.length; i++) if (!isStr(tags[i], 1, MAX_TAG_LENGTH)) return false;
  }
  return true;
}

/** The frame the schema would return for an `o` that {@link isPubFrame} accepted: its known keys only. */
export function pubFrameOf(o: Record<string, unknown>): PubFrame {
  const f: PubFrame = { t: "pub", topic: o.topic as string, data: o.data };
  if (o.id !== undefined) f.id = o.id as string | number;
  if (o.key !== undefined) f.key = o.key as string;
  if (o.tags !== undefined) f.tags = o.tags as string[];
  return f;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * ASCII strings read before, by a hash of their bytes: a device publishes
 * to the same topic again and again, and a string met before comes back
 * flat and already hashed, so the topic's map lookups downstream are cheap
 * (one built char by char is a rope, flattened by the first lookup).
 * Bounded; a hash collision only costs a miss.
 */
const seen = new Map<number, string>();
const SEEN_LIMIT = 16_384;
const codes: number[] = [];

function asciiAt(buf: Uint8Array, s: number, end: number): string | null {
  let h = 0x811c9dc5;
  for (let i = s; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x80) return null;
    h = Math.imul(h ^ c, 0x01000193);
  }
  const hit = seen.get(h);
  if (hit !== undefined && hit.length === end - s) {
    let i = 0;
    while (i < hit.length && hit.charCodeAt(i) === buf[s + i]) i++;
    if (i === hit.length) return hit;
  }
  // Not a subarray: a view of the runtime's message buffer costs more than this copy.
  codes.length = end - s;
  for (let i = s; i < end; i++) codes[i - s] = buf[i]!;
  const out = String.fromCharCode.apply(null, codes);
  if (seen.size >= SEEN_LIMIT) seen.clear();
  seen.set(h, out);
  return out;
}
/** What a reader returns for "not mine: take the general path". */
const NOT_MINE = null;

/** A msgpack str at `p` (fix, 8 or 16 bit length), as [string, next], or null. Invalid UTF-8 is null. */
function readStr(buf: Uint8Array, p: number): [string, number] | null {
  const b = buf[p];
  let len: number;
  let s: number;
  if (b === undefined) return null;
  if (b >= 0xa0 && b <= 0xbf) {
    len = b & 0x1f;
    s = p + 1;
  } else if (b === 0xd9 && p + 1 < buf.length) {
    len = buf[p + 1]!;
    s = p + 2;
  } else if (b === 0xda && p + 2 < buf.length) {
    len = (buf[p + 1]! << 8) | buf[p + 2]!;
    s = p + 3;
  } else return null;
  const end = s + len;
  if (end > buf.length) return null;
  if (len <= 64) {
    const a = asciiAt(buf, s, end);
    return a === null ? decodeUtf8(buf, s, end) : [a, end];
  }
  return decodeUtf8(buf, s, end);
}

function decodeUtf8(buf: Uint8Array, s: number, end: number): [string, number] | null {
  try {
    return [utf8.decode(buf.subarray(s, end)), end];
  } catch {
    return null;
  }
}

/** An integer id the way msgpackr reads it: fixints, (u)int 8/16/32. Others are left to the general path. */
export function readInt(buf: Uint8Array, p: number): [number, number] | null {
  const b = buf[p];
  if (b === undefined) return null;
  if (b <= 0x7f) return [b, p + 1];
  if (b >= 0xe0) return [b - 0x100, p + 1];
  const n = buf.length;
  const u16 = () => (buf[p + 1]! << 8) | buf[p + 2]!;
  const u32 = () => ((buf[p + 1]! << 24) >>> 0) + ((buf[p + 2]! << 16) | (buf[p + 3]! << 8) | buf[p + 4]!);
  switch (b) {
    case 0xcc: return p + 2 <= n ? [buf[p + 1]!, p + 2] : null;
    case 0xcd: return p + 3 <= n ? [u16(), p + 3] : null;
    case 0xce: return p + 5 <= n ? [u32(), p + 5] : null;
    case 0xd0: return p + 2 <= n ? [(buf[p + 1]! << 24) >> 24, p + 2] : null;
    case 0xd1: return p + 3 <= n ? [(u16() << 16) >> 16, p + 3] : null;
    case 0xd2: return p + 5 <= n ? [u32() | 0, p + 5] : null;
    default: return null;
  }
}

/** A fixarray or array16 of strs, as [strings, next], or null. */
function readStrArray(buf: Uint8Array, p: number): [string[], number] | null {
  const b = buf[p];
  let n: number;
  if (b === undefined) return null;
  if (b >= 0x90 && b <= 0x9f) {
    n = b & 0x0f;
    p += 1;
  } else if (b === 0xdc && p + 2 < buf.length) {
    n = (buf[p + 1]! << 8) | buf[p + 2]!;
    p += 3;
  } else return null;
  if (n > MAX_TAGS) return null;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = readStr(buf, p);
    if (r === null) return null;
    out.push(r[0]);
    p = r[1];
  }
  return [out, p];
}

/** The top-level key at `p` when it is one of the `pub` frame's (t, id, topic, key, tags, data): its index, or -1. */
function pubKey(buf: Uint8Array, p: number): number {
  const b = buf[p];
  // fixstr of 1–5 ASCII bytes; compared by length, then bytes.
  switch (b) {
    case 0xa1: return buf[p + 1] === 0x74 ? 0 : -1; // t
    case 0xa2: return buf[p + 1] === 0x69 && buf[p + 2] === 0x64 ? 1 : -1; // id
    case 0xa5: return buf[p + 1] === 0x74 && buf[p + 2] === 0x6f && buf[p + 3] === 0x70 && buf[p + 4] === 0x69 && buf[p + 5] === 0x63 ? 2 : -1; // topic
    case 0xa3: return buf[p + 1] === 0x6b && buf[p + 2] === 0x65 && buf[p + 3] === 0x79 ? 3 : -1; // key
    case 0xa4:
      if (buf[p + 1] === 0x74 && buf[p + 2] === 0x61 && buf[p + 3] === 0x67 && buf[p + 4] === 0x73) return 4; // tags
      return buf[p + 1] === 0x64 && buf[p + 2] === 0x61 && buf[p + 3] === 0x74 && buf[p + 4] === 0x61 ? 5 : -1; // data
    default: return -1;
  }
}

/**
 * A msgpack `pub` frame that starts with `t: "pub"` and holds only the
 * frame's own keys, each once, in their plain forms (str, small int, array
 * of str), read without decoding the rest: the header fields, and `data`'s
 * bytes located and checked but not decoded. Anything else — another frame
 * type, an unusual encoding, a malformed or refused frame, one over the
 * `pub` cap (`maxBytes`) — returns null, and the caller decodes the frame
 * the general way, which also reports what is wrong with it.
 */
export function decodePubBinary(buf: Uint8Array, maxBytes: number): Decoded | null {
  const head = readMapHeader(buf, 0);
  if (head === null || head.count < 2 || head.count > 6 || buf.length > maxBytes) return NOT_MINE;
  let p = head.next;
  // t first, and "pub": a cheap no for every other frame.
  if (buf[p] !== 0xa1 || buf[p + 1] !== 0x74 || buf[p + 2] !== 0xa3 || buf[p + 3] !== 0x70 || buf[p + 4] !== 0x75 || buf[p + 5] !== 0x62) return NOT_MINE;
  p += 6;
  const o: Record<string, unknown> = { t: "pub" };
  let seen = 1;
  let dataStart = -1;
  let dataEnd = -1;
  for (let i = 1; i < head.count; i++) {
    const k = pubKey(buf, p);
    if (k < 1 || seen & (1 << k)) return NOT_MINE;
    seen |= 1 << k;
    p += k === 1 ? 3 : k === 3 ? 4 : k === 2 ? 6 : 5;
    let r: [unknown, number] | null;
    switch (k) {
      case 1:
        r = (buf[p]! >= 0xa0 && buf[p]! <= 0xbf) || buf[p] === 0xd9 ? readStr(buf, p) : readInt(buf, p);
        if (r) o.id = r[0];
        break;
      case 2:
        r = readStr(buf, p);
        if (r) o.topic = r[0];
        break;
      case 3:
        r = readStr(buf, p);
        if (r) o.key = r[0];
        break;
      case 4:
        r = readStrArray(buf, p);
        if (r) o.tags = r[0];
        break;
      default:
        try {
          r = [null, skipValue(buf, p)];
        } catch (e) {
          if (e instanceof ScanError) return NOT_MINE;
          throw e;
        }
        dataStart = p;
        dataEnd = r[1];
    }
    if (r === null) return NOT_MINE;
    p = r[1];
  }
  // As the general path does: data is carried apart, its key stays.
  o.data = undefined;
  if (p !== buf.length || dataStart < 0 || !isPubFrame(o)) return NOT_MINE;
  // A copy, not a view: a view of the runtime's message buffer made it build an ArrayBuffer per frame (µs each,
  // seen in the profile), and a retained publication would keep the whole frame alive.
  return { frame: pubFrameOf(o), payload: { raw: buf.slice(dataStart, dataEnd) } };
}
