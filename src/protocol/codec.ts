/**
 * Encoding and decoding of frames in both encodings.
 *
 * msgpack frames are binary WebSocket messages, JSON frames are text ones.
 * A publish frame's `data` in msgpack is located and validated by the
 * scanner but never decoded here: its bytes are spliced into the outgoing
 * publication frame as they came.
 * @module
 */
import { ErrorCode } from "./codes.ts";
import { TickgateError } from "./errors.ts";
import { clientFrameSchemas, type ClientFrame, type Payload, type ServerFrame } from "./frames.ts";
import { decodePlainSub, plainSub } from "./sub-frame.ts";
import { packFlat } from "./flat-pack.ts";
import { DEFAULT_FRAME_CAPS, SMALLEST_CAP, type FrameCaps } from "./frame-caps.ts";
import { ScanError, readKey, readMapHeader, skipValue } from "./msgpack-scan.ts";
import { decodePubBinary, isPubFrame, pubFrameOf } from "./pub-frame.ts";
import { valueProblem } from "./value-check.ts";

import { packr, unpackr } from "./codec-packr.ts";
import type { PublicationHeader } from "./publication-frame.ts";

export { packr, unpackr } from "./codec-packr.ts";
export { encodePublicationMsgpack, type PublicationHeader } from "./publication-frame.ts";

/** A client frame that cannot be decoded or fails its schema; `code` says which (BAD_FRAME, UNKNOWN_TYPE, ...). */
export class DecodeError extends TickgateError {
  declare readonly code: ErrorCode;
  constructor(
    code: ErrorCode,
    message: string,
    /** The frame's `id`, when it could be read, so the error can answer it. */
    readonly frameId?: string | number,
  ) {
    super(code, message);
    this.name = "DecodeError";
  }
}

export interface Decoded {
  frame: ClientFrame;
  /** Present for `pub` frames. */
  payload?: Payload;
}

function pickId(v: unknown): string | number | undefined {
  if (typeof v === "string" && v.length <= 64) return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  return undefined;
}

function validate(obj: unknown): ClientFrame {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new DecodeError(ErrorCode.BAD_FRAME, "frame must be a map/object with a 't' field");
  }
  const rec = obj as Record<string, unknown>;
  const frameId = pickId(rec.id);
  const t = rec.t;
  const schema = typeof t === "string" && Object.hasOwn(clientFrameSchemas, t)
    ? clientFrameSchemas[t as keyof typeof clientFrameSchemas]
    : undefined;
  if (!schema) {
    const shown = typeof t === "string" ? JSON.stringify(t.slice(0, 32)) : `of type ${t === null ? "null" : typeof t}`;
    throw new DecodeError(ErrorCode.UNKNOWN_TYPE, `unknown frame type ${shown}`, frameId);
  }
  // Publications are most frames: their shape is checked by hand; a refusal still gets the schema's error below.
  if (t === "pub" && isPubFrame(rec)) return pubFrameOf(rec);
  if (t === "sub") {
    const plain = plainSub(rec);
    if (plain) return plain;
  }
  const r = schema.safeParse(obj);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? issue.path.join(".") : "frame";
    throw new DecodeError(ErrorCode.INVALID_FRAME, `${t}: ${where}: ${issue.message}`, frameId);
  }
  return r.data as ClientFrame;
}

/**
 * Decodes a binary (msgpack) client frame. For a `pub` frame the `data`
 * value's bytes are returned as `payload.raw`, checked but not decoded.
 */
export function decodeBinary(buf: Uint8Array, caps: FrameCaps = DEFAULT_FRAME_CAPS): Decoded {
  // A plain `pub` frame is read straight from its bytes; anything else (or wrong) takes the path below.
  const pub = decodePubBinary(buf, caps.pub);
  if (pub !== null) return pub;
  // The frame every subscriber sends at connect, read directly (sub-frame.ts).
  const sub = buf[0] === 0x82 || buf[0] === 0x83 ? decodePlainSub(buf) : undefined;
  if (sub) return { frame: sub };
  const head = readMapHeader(buf, 0);
  if (!head) throw new DecodeError(ErrorCode.BAD_FRAME, "frame must be a msgpack map");
  // Walk the top-level entries; remember where `data` sits so the header can
  // be decoded without it.
  let p = head.next;
  let dataKeyStart = -1;
  let dataStart = -1;
  let dataEnd = -1;
  let inData = false;
  try {
    for (let i = 0; i < head.count; i++) {
      const keyStart = p;
      const k = readKey(buf, p);
      p = k ? k.next : skipValue(buf, p);
      const valueStart = p;
      inData = k?.key === "data";
      // The cap is checked as soon as `t` is read: with `t` first, before
      // anything else of an oversize frame is looked at.
      if (k?.key === "t" && buf.length > SMALLEST_CAP) checkCap(readKey(buf, p)?.key, buf.length, caps);
      p = skipValue(buf, p);
      if (inData) {
        dataKeyStart = keyStart;
        dataStart = valueStart;
        dataEnd = p;
        inData = false;
      }
    }
  } catch (e) {
    if (e instanceof ScanError) {
      if (inData) throw new DecodeError(ErrorCode.BAD_PAYLOAD, `data is not valid msgpack at byte ${e.offset}: ${e.message}`);
      throw new DecodeError(ErrorCode.BAD_FRAME, `malformed msgpack at byte ${e.offset}: ${e.message}`);
    }
    throw e;
  }
  if (p !== buf.length) throw new DecodeError(ErrorCode.BAD_FRAME, `trailing bytes after frame at byte ${p}`);

  let header: unknown;
  try {
    if (dataKeyStart < 0) header = unpackr.unpack(buf);
    else header = unpackr.unpack(withoutEntry(buf, head.next, head.count, dataKeyStart, dataEnd));
  } catch (e) {
    throw new DecodeError(ErrorCode.BAD_FRAME, `undecodable msgpack frame: ${(e as Error).message}`);
  }
  if (header !== null && typeof header === "object" && !Array.isArray(header)) {
    (header as Record<string, unknown>).data = undefined;
  }
  const frame = validate(header);
  if (frame.t === "pub") {
    if (dataStart < 0) throw new DecodeError(ErrorCode.INVALID_FRAME, "pub: data: missing", frame.id);
    return { frame, payload: { raw: buf.subarray(dataStart, dataEnd) } };
  }
  // Other frames with `data` (req, command, command_ack, hello's will is nested) get it decoded.
  if (dataStart >= 0) {
    try {
      (frame as { data?: unknown }).data = unpackr.unpack(buf.subarray(dataStart, dataEnd));
    } catch (e) {
      throw new DecodeError(ErrorCode.BAD_PAYLOAD, `${frame.t}: data could not be decoded: ${(e as Error).message}`, frame.id);
    }
  }
  return { frame };
}

/** Refuses a frame larger than its type's cap; an unknown type is left to the schema check. */
function checkCap(t: string | undefined, size: number, caps: FrameCaps): void {
  if (t === undefined || !Object.hasOwn(caps, t)) return;
  const cap = caps[t as keyof FrameCaps];
  if (size > cap) throw new DecodeError(ErrorCode.FRAME_TOO_LARGE, `${t} frame is ${size} bytes; at most ${cap} allowed`);
}

/** `t` of a JSON frame that starts with it (as every client writes it), without parsing. */
const LEADING_T = /^\s*\{\s*"t"\s*:\s*"([a-z_]{1,16})"/;

/** Copies the map minus one entry, with its count lowered by one. */
function withoutEntry(buf: Uint8Array, bodyStart: number, count: number, cutStart: number, cutEnd: number): Uint8Array {
  const hdr = mapHeader(count - 1);
  const out = new Uint8Array(hdr.length + (cutStart - bodyStart) + (buf.length - cutEnd));
  out.set(hdr, 0);
  out.set(buf.subarray(bodyStart, cutStart), hdr.length);
  out.set(buf.subarray(cutEnd), hdr.length + (cutStart - bodyStart));
  return out;
}

function mapHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x80 | n);
  if (n < 0x10000) return Uint8Array.of(0xde, n >> 8, n & 0xff);
  return Uint8Array.of(0xdf, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

/** Decodes a text (JSON) client frame. */
export function decodeText(text: string, caps: FrameCaps = DEFAULT_FRAME_CAPS): Decoded {
  // A string's length never exceeds its UTF-8 size, so this refuses only frames that are over.
  const big = text.length > SMALLEST_CAP;
  if (big) checkCap(LEADING_T.exec(text.slice(0, 64))?.[1], text.length, caps);
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new DecodeError(ErrorCode.BAD_FRAME, `invalid JSON: ${(e as Error).message.slice(0, 120).toWellFormed()}`);
  }
  // `t` was not first: checked now, still before the value walk and the schema.
  if (big && obj !== null && typeof obj === "object") {
    const t = (obj as Record<string, unknown>).t;
    checkCap(typeof t === "string" ? t : undefined, text.length, caps);
  }
  const problem = valueProblem(obj);
  if (problem) {
    const rec = typeof obj === "object" && obj !== null ? (obj as Record<string, unknown>) : {};
    const id = pickId(rec.id);
    const cleanId = typeof id === "string" && !id.isWellFormed() ? undefined : id;
    throw new DecodeError(rec.t === "pub" ? ErrorCode.BAD_PAYLOAD : ErrorCode.BAD_FRAME, `frame cannot be carried: ${problem}`, cleanId);
  }
  const frame = validate(obj);
  if (frame.t === "pub") {
    if (!Object.hasOwn(obj as object, "data")) throw new DecodeError(ErrorCode.INVALID_FRAME, "pub: data: missing", frame.id);
    return { frame, payload: { value: frame.data } };
  }
  return { frame };
}

/** Encodes a server control frame. */
export function encodeFrame(frame: ServerFrame, json: boolean): Uint8Array | string {
  return json ? JSON.stringify(frame) : (packFlat(frame) ?? packr.pack(frame));
}

/** The header fields in wire order; optional ones only when set. */
function headerFields(h: PublicationHeader): Record<string, unknown> {
  const o: Record<string, unknown> = { t: "msg", topic: h.topic, seq: h.seq, epoch: h.epoch, ts: h.ts };
  if (h.key !== undefined) o.key = h.key;
  if (h.tags !== undefined) o.tags = h.tags;
  return o;
}

export function encodePublicationJson(h: PublicationHeader, data: unknown): string {
  const o = headerFields(h);
  o.data = data;
  return JSON.stringify(o);
}

/** Decodes any server frame (for tests and tools; the client SDK has its own in `client/codec.ts`, without this module's zod). */
export function decodeServerFrame(msg: Uint8Array | ArrayBuffer | string): Record<string, unknown> & { t: string } {
  if (typeof msg === "string") return JSON.parse(msg);
  return unpackr.unpack(msg instanceof Uint8Array ? msg : new Uint8Array(msg));
}
