/**
 * The client's frame encoding. The packer settings are the server's
 * (`protocol/codec.ts`): plain msgpack maps, no records or extensions. They
 * are repeated here rather than imported because `protocol/codec.ts` also
 * holds the server's zod-validated decoder, which a browser bundle should
 * not carry.
 * @internal
 * @module
 */
import { Packr, Unpackr } from "msgpackr";
import type { Encoding, PublicationFrame, ServerFrame } from "../protocol/frames.ts";

const packr = new Packr({ useRecords: false, variableMapSize: true, useFloat32: 0 });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

/** Every frame a server sends, publications included. @internal */
export type IncomingFrame = ServerFrame | PublicationFrame;

/** @internal */
export function encodeClientFrame(frame: Record<string, unknown>, encoding: Encoding): string | Uint8Array {
  return encoding === "json" ? JSON.stringify(frame) : packr.pack(frame);
}

/**
 * Decodes one WebSocket message, text (JSON) or binary (msgpack), whatever
 * encoding was negotiated. Returns `null` for anything that is not a map
 * with a string `t`.
 * @internal
 */
export function decodeServerMessage(data: unknown): IncomingFrame | null {
  let v: unknown;
  if (typeof data === "string") v = JSON.parse(data);
  else if (data instanceof ArrayBuffer) v = unpackr.unpack(new Uint8Array(data));
  else if (data instanceof Uint8Array) v = unpackr.unpack(data);
  else return null;
  if (v === null || typeof v !== "object" || typeof (v as { t?: unknown }).t !== "string") return null;
  return v as IncomingFrame;
}
