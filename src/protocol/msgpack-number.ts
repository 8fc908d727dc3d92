/**
 * One msgpack number, byte for byte as msgpackr writes it without float32:
 * an integer in [-2^31, 2^32) in its smallest int type, any other number as
 * a float64. Shared by the publication frame writer and the control-frame
 * writer (flat-pack.ts). No DataView: one per frame showed in the ingest
 * profile (~10% of the publish path); shifting bytes by hand does not.
 * @module
 */

const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const isInt32ish = (n: number) => Number.isInteger(n) && n >= -0x80000000 && n <= 0xffffffff;

/** Bytes {@link writeMsgpackNumber} writes for `n`. */
export function msgpackNumberSize(n: number): number {
  if (!isInt32ish(n)) return 9;
  // A fixint (-0 included, written as 0).
  if (n >= 0 ? n < 0x80 : n >= -32) return 1;
  if (n >= 0) return n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  return n >= -128 ? 2 : n >= -32768 ? 3 : 5;
}

/** Writes `n` at `out[o]` (room for {@link msgpackNumberSize} bytes is the caller's); returns the offset after it. */
export function writeMsgpackNumber(out: Uint8Array, o: number, n: number): number {
  if (!isInt32ish(n)) {
    out[o] = 0xcb;
    F64[0] = n;
    // msgpack is big-endian.
    if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) out[o + 1 + i] = F64_BYTES[7 - i]!;
    else out.set(F64_BYTES, o + 1);
    return o + 9;
  }
  if (n >= 0 ? n < 0x80 : n >= -32) {
    out[o] = n & 0xff;
    return o + 1;
  }
  if (n >= 0) return n < 0x100 ? int(out, o, 0xcc, n, 1) : n < 0x10000 ? int(out, o, 0xcd, n, 2) : int(out, o, 0xce, n, 4);
  return n >= -128 ? int(out, o, 0xd0, n, 1) : n >= -32768 ? int(out, o, 0xd1, n, 2) : int(out, o, 0xd2, n, 4);
}

/** Type byte, then `v` in `size` big-endian bytes (two's complement when negative). */
function int(out: Uint8Array, o: number, type: number, v: number, size: number): number {
  out[o] = type;
  for (let i = 1; i <= size; i++) out[o + i] = (v >>> (8 * (size - i))) & 0xff;
  return o + 1 + size;
}
