/**
 * msgpack for the server's small control frames (`ack`, `pong`, the
 * welcome's head, ...): maps of ASCII strings, numbers, booleans and null,
 * nested at most a few levels. They are written here, byte for byte as
 * msgpackr writes them (`useRecords: false`, `variableMapSize: true`,
 * no float32), because msgpackr's packer is one very large function: at
 * connect time, every new process spent a third of a second compiling it
 * for the first acks. Anything else (non-ASCII text, arrays, binary,
 * `undefined`, more than 15 keys, more than 4 KiB) returns `null` and the
 * caller packs it with msgpackr. Per frame: one pass, one copy out.
 * @module
 */

import { writeMsgpackNumber } from "./msgpack-number.ts";

const CAP = 4096;
const scratch = new Uint8Array(CAP);
const view = new DataView(scratch.buffer);
/** Write position; -1 once the frame cannot be written here. */
let at = 0;

/** The frame's msgpack bytes, or `null` when msgpackr must write it. */
export function packFlat(frame: object): Uint8Array | null {
  at = 0;
  map(frame as Record<string, unknown>, 0);
  return at < 0 ? null : scratch.slice(0, at);
}

function room(n: number): boolean {
  if (at < 0 || at + n > CAP) {
    at = -1;
    return false;
  }
  return true;
}

function map(o: Record<string, unknown>, depth: number): void {
  if (depth > 3 || Object.getPrototypeOf(o) !== Object.prototype) return void (at = -1);
  const keys = Object.keys(o);
  if (keys.length > 15 || !room(1)) return void (at = -1);
  scratch[at++] = 0x80 | keys.length;
  for (let i = 0; i < keys.length && at >= 0; i++) {
    const k = keys[i]!;
    str(k);
    value(o[k], depth);
  }
}

function value(v: unknown, depth: number): void {
  switch (typeof v) {
    case "string":
      return str(v);
    case "number":
      return num(v);
    case "boolean":
      if (room(1)) scratch[at++] = v ? 0xc3 : 0xc2;
      return;
    case "object":
      if (v === null) {
        if (room(1)) scratch[at++] = 0xc0;
        return;
      }
      if (Array.isArray(v) || ArrayBuffer.isView(v)) return void (at = -1);
      return map(v as Record<string, unknown>, depth + 1);
    default:
      at = -1;
  }
}

function str(s: string): void {
  const n = s.length;
  const head = n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
  if (!room(head + n)) return;
  if (n < 32) scratch[at++] = 0xa0 | n;
  else if (n < 256) {
    scratch[at++] = 0xd9;
    scratch[at++] = n;
  } else if (n < 65536) {
    scratch[at++] = 0xda;
    view.setUint16(at, n);
    at += 2;
  } else {
    scratch[at++] = 0xdb;
    view.setUint32(at, n);
    at += 4;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    // Non-ASCII: msgpackr writes its UTF-8.
    if (c >= 0x80) return void (at = -1);
    scratch[at++] = c;
  }
}

function num(v: number): void {
  if (room(9)) at = writeMsgpackNumber(scratch, at, v);
}
