/**
 * The benchmark tick: a fixed-layout msgpack map whose last two fields are a
 * uint32 counter and a float64 publish time. Both servers end their frame
 * with this payload, so the load client reads counter and time at fixed
 * offsets from the frame's end without decoding msgpack, whichever server
 * sent it.
 *
 * Layout: { sym: "BTC-USD", px: f64, qty: f64, pad: str, n: u32, ts: f64 }
 * Tail:   ... a1 'n' ce <u32> a2 't' 's' cb <f64>
 * @module
 */
import { encodePublicationMsgpack } from "../../src/protocol/codec.ts";

export const TOPIC = "bench.fanout";
/** `n` (uint32, big-endian) starts this many bytes before the frame's end. */
export const N_FROM_END = 16;
/** `ts` (float64, big-endian) starts this many bytes before the frame's end. */
export const TS_FROM_END = 8;
/** Bytes before the end where the `ts` key and the float64 marker sit: a2 74 73 cb. */
export const TS_KEY_FROM_END = 12;
/** Fixed part of the payload without the `pad` string's header and body. */
const BASE = 61;
export const MIN_PAYLOAD = BASE + 1;

const enc = new TextEncoder();

/** Builds the payload template of exactly `size` bytes; `n` and `ts` are stamped per tick. */
export function payloadTemplate(size: number): Uint8Array {
  if (!Number.isInteger(size) || size < MIN_PAYLOAD || size > 60_000) throw new Error(`payload size must be an integer in [${MIN_PAYLOAD}, 60000], got ${size}`);
  const rest = size - BASE;
  const padHead = rest - 1 <= 31 ? [0xa0 | (rest - 1)] : rest - 2 <= 255 ? [0xd9, rest - 2] : [0xda, (rest - 3) >> 8, (rest - 3) & 0xff];
  const padLen = rest - padHead.length;
  const parts: number[] = [0x86];
  const str = (s: string) => {
    const b = enc.encode(s);
    parts.push(0xa0 | b.length, ...b);
  };
  const f64 = (v: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v);
    parts.push(0xcb, ...b);
  };
  str("sym");
  str("BTC-USD");
  str("px");
  f64(64000.5);
  str("qty");
  f64(0.25);
  str("pad");
  parts.push(...padHead, ...new Array<number>(padLen).fill(0x78));
  str("n");
  parts.push(0xce, 0, 0, 0, 0);
  str("ts");
  f64(0);
  const out = Uint8Array.from(parts);
  if (out.length !== size) throw new Error(`payload template is ${out.length} bytes, wanted ${size}`);
  return out;
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Writes `n` and `ts` into the tail that ends at `end` (exclusive). No allocation. */
export function stamp(buf: Uint8Array, end: number, n: number, ts: number): void {
  const o = end - N_FROM_END;
  buf[o] = n >>> 24;
  buf[o + 1] = (n >>> 16) & 0xff;
  buf[o + 2] = (n >>> 8) & 0xff;
  buf[o + 3] = n & 0xff;
  f64[0] = ts;
  const t = end - TS_FROM_END;
  for (let i = 0; i < 8; i++) buf[t + i] = f64Bytes[littleEndian ? 7 - i : i]!;
}

export function readN(buf: Uint8Array, end: number): number {
  const o = end - N_FROM_END;
  return ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

export function readTs(buf: Uint8Array, end: number): number {
  const t = end - TS_FROM_END;
  for (let i = 0; i < 8; i++) f64Bytes[littleEndian ? 7 - i : i] = buf[t + i]!;
  return f64[0]!;
}

/** True when the tail has the expected key and markers: a cheap check that the layout held. */
export function tailOk(buf: Uint8Array, end: number): boolean {
  const k = end - TS_KEY_FROM_END;
  return buf[k] === 0xa2 && buf[k + 1] === 0x74 && buf[k + 2] === 0x73 && buf[k + 3] === 0xcb && buf[end - 17] === 0xce;
}

/** Wall clock with sub-millisecond resolution, comparable across processes on one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Length of tickgate's publication frame for this payload (seq ≥ 65536, 12-hex-digit epoch). */
export function tickgateFrameLength(payloadSize: number): number {
  return encodePublicationMsgpack({ topic: TOPIC, seq: 100_000, epoch: "0123456789ab", ts: Date.now() }, new Uint8Array(payloadSize)).length;
}

/**
 * The bare server's frame: { t: "msg", topic, seq: u32, pad: bin, data: payload }.
 * It is padded to `frameSize` so both servers put the same bytes on the
 * wire and the comparison is about server work, not frame size.
 * Returns the template and where `seq` sits.
 */
export function bareFrameTemplate(payload: Uint8Array, frameSize: number): { frame: Uint8Array; seqAt: number } {
  const head: number[] = [0x85];
  const str = (s: string) => {
    const b = enc.encode(s);
    head.push(0xa0 | b.length, ...b);
  };
  str("t");
  str("msg");
  str("topic");
  str(TOPIC);
  str("seq");
  const seqAt = head.length + 1;
  head.push(0xce, 0, 0, 0, 0);
  str("pad");
  const fixed = head.length + 2 + 5 + payload.length; // bin8 header + "data" key
  const padLen = frameSize - fixed;
  if (padLen < 0 || padLen > 255) throw new Error(`cannot pad the bare frame to ${frameSize} bytes (pad would be ${padLen})`);
  head.push(0xc4, padLen, ...new Array<number>(padLen).fill(0), 0xa4, 0x64, 0x61, 0x74, 0x61);
  const frame = new Uint8Array(head.length + payload.length);
  frame.set(head, 0);
  frame.set(payload, head.length);
  return { frame, seqAt };
}

/** True when a frame body starts with `{ t: "msg"`: a publication on either server. */
export function isPublication(buf: Uint8Array, start: number): boolean {
  return buf[start + 1] === 0xa1 && buf[start + 2] === 0x74 && buf[start + 3] === 0xa3 && buf[start + 4] === 0x6d && buf[start + 5] === 0x73 && buf[start + 6] === 0x67;
}
