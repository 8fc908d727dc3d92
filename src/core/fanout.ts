/**
 * The hand-off to native fan-out: for each channel a publication reaches,
 * one native publish per encoding in use, and, where connections take batch
 * frames, one more on the channel's batch channel. A group of publications
 * (a linger window, one event-loop turn) goes out in one call, in order, so
 * the runtime writes each subscriber's share of it at once and every batch
 * subscriber gets one message per channel.
 *
 * Per-channel state (the `published` count the slow-consumer sweep reads,
 * conflation, the dirty mark) changes here, when the publication reaches the
 * native channel; per-topic state (seq, history, retained) changed when it
 * was published (`Broker#deliver`). Cost: per publication per channel,
 * never per subscriber; a batch frame is one copy of frames already built.
 * @module
 */
import { encodeBatchJson, encodeBatchMsgpack } from "../protocol/batch-frame.ts";
import type { BrokerCounters } from "./broker.ts";
import type { ChannelIndex } from "./channel-index.ts";
import type { Channel, Held } from "./channel.ts";
import type { LatencySampler } from "./latency.ts";
import type { Publication } from "./publication.ts";
import type { SlowConsumerGuard } from "./slow-consumers.ts";
import type { Topic } from "./topic.ts";
import type { Transport } from "./transport.ts";

export class FanOut {
  constructor(
    readonly transport: Transport,
    readonly index: ChannelIndex,
    readonly guard: SlowConsumerGuard,
    readonly counters: BrokerCounters,
    readonly latency: LatencySampler,
  ) {}

  /** One publication on its own; `chans` is `index.match(pub.topic)`. */
  one(pub: Publication, topic: Topic, chans: readonly Channel[], arrivedAt: number | undefined): void {
    for (let i = 0; i < chans.length; i++) {
      const ch = chans[i]!;
      // One check per distinct filter, whatever the number of its subscribers.
      if (ch.filter !== null && !ch.filter(pub.tags)) continue;
      this.#plain(ch, pub, topic);
      // A batch of one is the plain frame: no batch header for a lone publication.
      if (ch.batchBinaryCount > 0) this.#send(ch.batchBinary, pub.binary(), ch.batchBinaryCount, topic);
      if (ch.batchTextCount > 0) this.#send(ch.batchText, pub.text(), ch.batchTextCount, topic);
    }
    if (arrivedAt !== undefined) this.latency.record(performance.now() - arrivedAt);
  }

  /** Several publications in one turn, in the order given; each batch channel gets one frame. */
  many(items: readonly Held[]): void {
    const touched: Channel[] = [];
    for (let k = 0; k < items.length; k++) {
      const h = items[k]!;
      const chans = this.index.match(h.pub.topic);
      for (let i = 0; i < chans.length; i++) {
        const ch = chans[i]!;
        if (ch.filter !== null && !ch.filter(h.pub.tags)) continue;
        this.#plain(ch, h.pub, h.topic);
        if (ch.batching) {
          if (ch.batchHeld === null) {
            ch.batchHeld = [];
            touched.push(ch);
          }
          ch.batchHeld.push(h);
        }
      }
      if (h.arrivedAt !== undefined) this.latency.record(performance.now() - h.arrivedAt);
    }
    for (let i = 0; i < touched.length; i++) {
      const ch = touched[i]!;
      const held = ch.batchHeld!;
      ch.batchHeld = null;
      if (ch.batchBinaryCount > 0) {
        const f = held.length === 1 ? held[0]!.pub.binary() : encodeBatchMsgpack(held.map((h) => h.pub.binary()));
        this.#sendBatch(ch.batchBinary, f, ch.batchBinaryCount, held);
      }
      if (ch.batchTextCount > 0) {
        const f = held.length === 1 ? held[0]!.pub.text() : encodeBatchJson(held.map((h) => h.pub.text()));
        this.#sendBatch(ch.batchText, f, ch.batchTextCount, held);
      }
    }
  }

  /** The plain (one frame per publication) native channels, and the channel's own state. */
  #plain(ch: Channel, pub: Publication, topic: Topic): void {
    ch.published++;
    if (ch.binaryCount > 0) this.#send(ch.nativeBinary, pub.binary(), ch.binaryCount, topic);
    if (ch.textCount > 0) this.#send(ch.nativeText, pub.text(), ch.textCount, topic);
    if (ch.latest !== null) ch.rememberLatest(pub);
    this.guard.published(ch, pub);
  }

  #send(channel: string, f: Uint8Array | string, subscribers: number, topic: Topic): void {
    this.transport.publish(channel, f);
    topic.deliveries += subscribers;
    this.counters.deliveries += subscribers;
    this.counters.bytesOut += f.length * subscribers;
  }

  #sendBatch(channel: string, f: Uint8Array | string, subscribers: number, held: readonly Held[]): void {
    this.transport.publish(channel, f);
    for (let i = 0; i < held.length; i++) held[i]!.topic.deliveries += subscribers;
    this.counters.deliveries += subscribers * held.length;
    this.counters.bytesOut += f.length * subscribers;
  }
}
