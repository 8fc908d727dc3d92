/**
 * A structural scanner for MessagePack: it checks that bytes are one
 * well-formed value and returns where that value ends, without building it.
 *
 * Written by hand because msgpackr only offers full decoding, and the point
 * here is to carry a publisher's payload bytes to subscribers untouched while
 * still refusing anything malformed. It allocates nothing for valid input
 * except when a string holds non-ASCII bytes (checked with a fatal decoder).
 * @module
 */
import { ErrorCode } from "./codes.ts";
import { TickgateError } from "./errors.ts";

export const MAX_DEPTH = 64;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Malformed msgpack at `offset`; code `BAD_FRAME` (the decoder says `BAD_PAYLOAD` when it was inside `data`). */
export class ScanError extends TickgateError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(ErrorCode.BAD_FRAME, message);
    this.name = "ScanError";
  }
}

function need(buf: Uint8Array, pos: number, n: number): void {
  if (pos + n > buf.length) throw new ScanError("truncated value", pos);
}

function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

function checkUtf8(buf: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      try {
        utf8.decode(buf.subarray(start, end));
      } catch {
        throw new ScanError("string is not valid UTF-8", start);
      }
      return;
    }
  }
}

/**
 * Only the standard timestamp extension (type -1) is accepted: every other
 * extension type has no meaning to subscribers in other languages and no
 * JSON form, so it would break delivery to JSON subscribers.
 */
function ext(buf: Uint8Array, typePos: number): void {
  const type = buf[typePos]!;
  if (type !== 0xff) throw new ScanError(`msgpack extension type ${(type << 24) >> 24} is not allowed (only the timestamp, -1)`, typePos);
}

function str(buf: Uint8Array, pos: number, len: number): number {
  need(buf, pos, len);
  checkUtf8(buf, pos, pos + len);
  return pos + len;
}

function bytes(buf: Uint8Array, pos: number, len: number): number {
  need(buf, pos, len);
  return pos + len;
}

/**
 * Returns the offset just past the value starting at `pos`.
 * Containers are walked with an explicit stack of remaining counts so deep
 * nesting cannot exhaust the call stack; depth is capped at {@link MAX_DEPTH}.
 */
export function skipValue(buf: Uint8Array, pos: number): number {
  const remaining: number[] = [];
  let p = pos;
  for (;;) {
    need(buf, p, 1);
    const b = buf[p++]!;
    let children = 0;
    if (b <= 0x7f || b >= 0xe0) {
      // positive / negative fixint
    } else if (b <= 0x8f) children = (b & 0x0f) * 2;
    else if (b <= 0x9f) children = b & 0x0f;
    else if (b <= 0xbf) p = str(buf, p, b & 0x1f);
    else
      switch (b) {
        case 0xc0: case 0xc2: case 0xc3:
          break;
        case 0xc1:
          throw new ScanError("reserved byte 0xc1", p - 1);
        case 0xc4: need(buf, p, 1); p = bytes(buf, p + 1, buf[p]!); break;
        case 0xc5: need(buf, p, 2); p = bytes(buf, p + 2, u16(buf, p)); break;
        case 0xc6: need(buf, p, 4); p = bytes(buf, p + 4, u32(buf, p)); break;
        case 0xc7: need(buf, p, 2); ext(buf, p + 1); p = bytes(buf, p + 2, buf[p]!); break;
        case 0xc8: need(buf, p, 3); ext(buf, p + 2); p = bytes(buf, p + 3, u16(buf, p)); break;
        case 0xc9: need(buf, p, 5); ext(buf, p + 4); p = bytes(buf, p + 5, u32(buf, p)); break;
        case 0xca: p = bytes(buf, p, 4); break;
        case 0xcb: p = bytes(buf, p, 8); break;
        case 0xcc: case 0xd0: p = bytes(buf, p, 1); break;
        case 0xcd: case 0xd1: p = bytes(buf, p, 2); break;
        case 0xce: case 0xd2: p = bytes(buf, p, 4); break;
        case 0xcf: case 0xd3: p = bytes(buf, p, 8); break;
        case 0xd4: need(buf, p, 1); ext(buf, p); p = bytes(buf, p, 2); break;
        case 0xd5: need(buf, p, 1); ext(buf, p); p = bytes(buf, p, 3); break;
        case 0xd6: need(buf, p, 1); ext(buf, p); p = bytes(buf, p, 5); break;
        case 0xd7: need(buf, p, 1); ext(buf, p); p = bytes(buf, p, 9); break;
        case 0xd8: need(buf, p, 1); ext(buf, p); p = bytes(buf, p, 17); break;
        case 0xd9: need(buf, p, 1); p = str(buf, p + 1, buf[p]!); break;
        case 0xda: need(buf, p, 2); p = str(buf, p + 2, u16(buf, p)); break;
        case 0xdb: need(buf, p, 4); p = str(buf, p + 4, u32(buf, p)); break;
        case 0xdc: need(buf, p, 2); children = u16(buf, p); p += 2; break;
        case 0xdd: need(buf, p, 4); children = u32(buf, p); p += 4; break;
        case 0xde: need(buf, p, 2); children = u16(buf, p) * 2; p += 2; break;
        case 0xdf: need(buf, p, 4); children = u32(buf, p) * 2; p += 4; break;
      }
    if (children > 0) {
      // Every child needs at least one byte, so a count larger than what is
      // left is malformed; refusing early stops a 4-byte header from making
      // us loop billions of times.
      if (children > buf.length - p) throw new ScanError("container count exceeds input", p);
      if (remaining.length >= MAX_DEPTH) throw new ScanError(`nesting deeper than ${MAX_DEPTH}`, p);
      remaining.push(children);
      continue;
    }
    // A scalar (or empty container) finished: pop every container it completes.
    for (;;) {
      const top = remaining.length - 1;
      if (top < 0) return p;
      if (--remaining[top]! > 0) break;
      remaining.pop();
    }
  }
}

/** Throws unless `buf` is exactly one well-formed MessagePack value. */
export function assertOneValue(buf: Uint8Array): void {
  const end = skipValue(buf, 0);
  if (end !== buf.length) throw new ScanError("trailing bytes after value", end);
}

/** Reads a map header at `pos`: entry count and the offset of the first key. */
export function readMapHeader(buf: Uint8Array, pos: number): { count: number; next: number } | null {
  const b = buf[pos];
  if (b === undefined) return null;
  if (b >= 0x80 && b <= 0x8f) return { count: b & 0x0f, next: pos + 1 };
  if (b === 0xde && pos + 3 <= buf.length) return { count: u16(buf, pos + 1), next: pos + 3 };
  if (b === 0xdf && pos + 5 <= buf.length) return { count: u32(buf, pos + 1), next: pos + 5 };
  return null;
}

/** Reads a short string key at `pos` without allocating unless it is `data`-sized. */
export function readKey(buf: Uint8Array, pos: number): { key: string; next: number } | null {
  const b = buf[pos];
  if (b === undefined) return null;
  let len: number;
  let start: number;
  if (b >= 0xa0 && b <= 0xbf) {
    len = b & 0x1f;
    start = pos + 1;
  } else if (b === 0xd9 && pos + 2 <= buf.length) {
    len = buf[pos + 1]!;
    start = pos + 2;
  } else if (b === 0xda && pos + 3 <= buf.length) {
    len = u16(buf, pos + 1);
    start = pos + 3;
  } else if (b === 0xdb && pos + 5 <= buf.length) {
    len = u32(buf, pos + 1);
    start = pos + 5;
  } else return null;
  if (start + len > buf.length || len > 32) return null;
  let key = "";
  for (let i = start; i < start + len; i++) {
    // Non-ASCII keys go through skipValue, which checks their UTF-8.
    if (buf[i]! >= 0x80) return null;
    key += String.fromCharCode(buf[i]!);
  }
  return { key, next: start + len };
}
