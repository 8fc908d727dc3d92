/**
 * The batch frame: several publication frames of one subscription in one
 * WebSocket message, `{t: "batch", msgs: [<msg frame>, ...]}`. Each element
 * is the publication's own frame, byte for byte the one a connection without
 * batch frames receives, so building a batch is one copy of frames already
 * built (msgpack) or one string join (JSON), never a re-encode. Cost: once
 * per channel per flush, in bytes of the frames it carries.
 * @module
 */

/** `0x82` (map of 2), "t", "batch", "msgs": the bytes before the array header. */
const HEAD = Uint8Array.of(0x82, 0xa1, 0x74, 0xa5, 0x62, 0x61, 0x74, 0x63, 0x68, 0xa4, 0x6d, 0x73, 0x67, 0x73);

/** The JSON batch's opening; the frames follow, comma-separated, then `]}`. */
const JSON_HEAD = '{"t":"batch","msgs":[';

/** A msgpack batch of `frames` (each a complete msgpack publication frame). */
export function encodeBatchMsgpack(frames: readonly Uint8Array[]): Uint8Array {
  const n = frames.length;
  const arr = n < 16 ? 1 : n < 0x10000 ? 3 : 5;
  let size = HEAD.length + arr;
  for (let i = 0; i < n; i++) size += frames[i]!.length;
  const out = new Uint8Array(size);
  out.set(HEAD, 0);
  let o = HEAD.length;
  if (n < 16) out[o++] = 0x90 | n;
  else if (n < 0x10000) {
    out[o] = 0xdc;
    out[o + 1] = n >> 8;
    out[o + 2] = n & 0xff;
    o += 3;
  } else {
    out[o] = 0xdd;
    new DataView(out.buffer).setUint32(o + 1, n);
    o += 5;
  }
  for (let i = 0; i < n; i++) {
    const f = frames[i]!;
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/** A JSON batch of `frames` (each a complete JSON publication frame). */
export function encodeBatchJson(frames: readonly string[]): string {
  return `${JSON_HEAD}${frames.join(",")}]}`;
}
