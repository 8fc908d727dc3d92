/**
 * The client's frame encoding: the protocol's one packer (plain msgpack
 * maps, no records or extensions) and the JSON twin. Imports only the
 * zod-free half of the protocol. Cost: one pack or unpack per frame.
 * @internal
 * @module
 */
import { packr, unpackr } from "../protocol/codec-packr.ts";
import type { BatchFrame, Encoding, PublicationFrame, ServerFrame } from "../protocol/wire.ts";

/** Every frame a server sends, publications included. @internal */
export type IncomingFrame = ServerFrame | PublicationFrame;

/** What one WebSocket message decodes to: a frame, or a batch of publications. @internal */
export type IncomingMessage = IncomingFrame | BatchFrame;

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
export function decodeServerMessage(data: unknown): IncomingMessage | null {
  let v: unknown;
  if (typeof data === "string") v = JSON.parse(data);
  else if (data instanceof ArrayBuffer) v = unpackr.unpack(new Uint8Array(data));
  else if (data instanceof Uint8Array) v = unpackr.unpack(data);
  else return null;
  if (v === null || typeof v !== "object" || typeof (v as { t?: unknown }).t !== "string") return null;
  return v as IncomingMessage;
}
