/**
 * The plain `sub` frame, `{t: "sub", id?, topic}`, read without msgpackr or
 * zod. Every subscriber sends one at connect; decoding it the general way
 * (a full msgpack decode, whose first read of a fresh buffer allocates, and
 * a zod parse) cost more than the rest of the subscribe. Anything else — a
 * `recover` or `filter`, another field, a repeated key, non-ASCII text, an
 * id that is not a 32-bit integer or a short string — returns `undefined`
 * and takes the general path, so every frame decodes exactly as before.
 * Per frame: one pass over at most 512 bytes, three small strings.
 * @module
 */
import type { ClientFrame } from "./frames.ts";
import { readInt } from "./pub-frame.ts";
import { LIMITS } from "./wire.ts";

type Sub = Extract<ClientFrame, { t: "sub" }>;

/**
 * The frame as the schema would give it, when an already decoded object is
 * a plain `sub` it accepts (`data: undefined` is what the binary decoder
 * leaves); otherwise `undefined`.
 */
export function plainSub(rec: Record<string, unknown>): Sub | undefined {
  for (const k in rec) if (k !== "t" && k !== "id" && k !== "topic" && !(k === "data" && rec.data === undefined)) return undefined;
  if (rec.t !== "sub") return undefined;
  return checked(rec.id, rec.topic);
}

function checked(id: unknown, topic: unknown): Sub | undefined {
  if (typeof topic !== "string" || topic.length < 1 || topic.length > LIMITS.topicLength) return undefined;
  if (id === undefined) return { t: "sub", topic };
  if (typeof id === "string" ? id.length <= LIMITS.idLength : Number.isSafeInteger(id)) return { t: "sub", id: id as string | number, topic };
  return undefined;
}

/** Longest plain `sub` read here: larger frames go the general way, which also checks size caps. */
export const PLAIN_SUB_MAX_BYTES = 512;

const NONE = Symbol("none");

/** A plain `sub` frame straight from its msgpack bytes, or `undefined`. */
export function decodePlainSub(buf: Uint8Array): Sub | undefined {
  const n = buf.length;
  if (n > PLAIN_SUB_MAX_BYTES) return undefined;
  const head = buf[0]!;
  // A fixmap of 2 or 3 entries: t and topic, maybe id.
  if (head !== 0x82 && head !== 0x83) return undefined;
  let t: unknown = NONE;
  let id: unknown = NONE;
  let topic: unknown = NONE;
  let p = 1;
  for (let i = 0; i < (head & 0x0f); i++) {
    const key = readAscii(buf, p);
    if (key === undefined) return undefined;
    p = pos;
    let v: unknown;
    const b = buf[p]!;
    v = key === "id" && !((b >= 0xa0 && b <= 0xbf) || b === 0xd9) ? intAt(buf, p) : readAscii(buf, p);
    if (v === undefined) return undefined;
    p = pos;
    if (key === "t" && t === NONE) {
      if (v !== "sub") return undefined;
      t = v;
    } else if (key === "topic" && topic === NONE) topic = v;
    else if (key === "id" && id === NONE) id = v;
    else return undefined;
  }
  if (p !== n || t === NONE || topic === NONE) return undefined;
  return checked(id === NONE ? undefined : id, topic);
}

/** Where the last read ended (module state: no result objects on this path). */
let pos = 0;

/** An ASCII msgpack string at `p` (fixstr or str8), or `undefined`. */
function readAscii(buf: Uint8Array, p: number): string | undefined {
  const b = buf[p];
  if (b === undefined) return undefined;
  let len: number;
  if (b >= 0xa0 && b <= 0xbf) {
    len = b & 0x1f;
    p += 1;
  } else if (b === 0xd9) {
    len = buf[p + 1] ?? 0;
    p += 2;
  } else return undefined;
  if (p + len > buf.length) return undefined;
  for (let i = p; i < p + len; i++) if (buf[i]! >= 0x80) return undefined;
  pos = p + len;
  // One flat string, not a rope of one-character pieces.
  return String.fromCharCode.apply(null, buf.subarray(p, p + len) as unknown as number[]);
}

/** A msgpack integer at `p` that fits 32 bits (read as the `pub` reader does), or `undefined`. */
function intAt(buf: Uint8Array, p: number): number | undefined {
  const r = readInt(buf, p);
  if (r === null) return undefined;
  pos = r[1];
  return r[0];
}
