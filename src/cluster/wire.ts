/**
 * How publications travel as NATS messages. One publication is one message:
 * its msgpack payload as the body, seq/ts/key/tags in headers. When several
 * publications to one topic wait on one node while the previous write is in
 * flight, they go as one message (a batch): `Tg-Count: k`, `Tg-Seq` the first
 * seq, and the body a msgpack array of `[ts, key, tags, payload]`. Batching
 * is what lets a hot topic go past one JetStream round trip per publication.
 * Cost: a few header reads per message; a batch is packed and unpacked once.
 * @module
 */
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import type { Draft, Sequenced } from "../core/bus.ts";
import { packr, unpackr } from "../protocol/codec.ts";
import { HEADER, decodeKey, decodeTags, encodeKey, encodeTags } from "./subjects.ts";

/** Most publications in one message, and most payload bytes (JetStream's default message limit is 1 MiB). */
export const MAX_BATCH = 256;
export const MAX_BATCH_BYTES = 256 * 1024;

/** The NATS message for `drafts`, numbered from `seq`. */
export function encode(drafts: readonly Draft[], seq: number): { h: MsgHdrs; body: Uint8Array } {
  const h = headers();
  h.set(HEADER.seq, String(seq));
  if (drafts.length === 1) {
    const d = drafts[0]!;
    h.set(HEADER.ts, String(d.ts));
    if (d.key !== undefined) h.set(HEADER.key, encodeKey(d.key));
    if (d.tags !== undefined && d.tags.length > 0) h.set(HEADER.tags, encodeTags(d.tags));
    return { h, body: d.payload.raw! };
  }
  h.set(HEADER.count, String(drafts.length));
  const body = packr.pack(drafts.map((d) => [d.ts, d.key ?? null, d.tags && d.tags.length > 0 ? d.tags : null, d.payload.raw!]));
  return { h, body };
}

export function firstSeq(h: MsgHdrs): number {
  return Number(h.get(HEADER.seq));
}

/** Seq of the last publication a message carries. */
export function lastSeq(h: MsgHdrs): number {
  const n = h.has(HEADER.count) ? Number(h.get(HEADER.count)) : 1;
  return firstSeq(h) + n - 1;
}

/** The publications a message carries, in seq order. */
export function decode(topic: string, h: MsgHdrs, data: Uint8Array, epoch: string): Sequenced[] {
  const seq = firstSeq(h);
  if (!h.has(HEADER.count)) {
    const msg: Sequenced = { topic, key: h.has(HEADER.key) ? decodeKey(h.get(HEADER.key)) : undefined, ts: Number(h.get(HEADER.ts)), payload: { raw: data }, seq, epoch };
    const tags = h.get(HEADER.tags);
    if (tags) msg.tags = decodeTags(tags);
    return [msg];
  }
  const items = unpackr.unpack(data) as [number, string | null, string[] | null, Uint8Array][];
  return items.map(([ts, key, tags, raw], i) => {
    const msg: Sequenced = { topic, key: key ?? undefined, ts, payload: { raw }, seq: seq + i, epoch };
    if (tags) msg.tags = tags;
    return msg;
  });
}
