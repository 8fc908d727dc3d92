/**
 * Slow consumers with a real slow reader: a raw TCP WebSocket client that
 * stops reading, so kernel buffers fill and the server's queue grows.
 */
import { describe, expect, test } from "bun:test";
import { unpackr } from "../../src/protocol/codec.ts";
import { CloseCode, GapReason } from "../../src/protocol/codes.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { rawConnect, type RawClient } from "../helpers/raw-ws.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";

const LIMIT = 256 * 1024;
const PAD = "x".repeat(60_000);
const KEYS = ["A", "B", "C", "D", "E"];

const options = {
  slowConsumer: { checkIntervalMs: 10, nativeLimitBytes: 64 * 1024 * 1024 },
  defaultPolicy: { maxPayload: 128 * 1024, limitBytes: LIMIT },
  policies: [
    { match: "drop.>", action: "drop" },
    { match: "conf.>", action: "conflate" },
    { match: "disc.>", action: "disconnect" },
  ],
};

type Msg = { t: string; seq?: number; key?: string; reason?: string; count?: number; id?: number };

/** A raw subscriber that reads until subscribed, then stops reading. */
async function slowSubscriber(server: TestServer, topic: string): Promise<{ raw: RawClient; frames: Msg[] }> {
  const raw = await rawConnect(server.port);
  const frames: Msg[] = [];
  let acked: () => void;
  const ack = new Promise<void>((r) => (acked = r));
  raw.resume((p) => {
    const f = unpackr.unpack(p) as Msg;
    frames.push(f);
    if (f.t === "ack" && f.id === 1) acked();
  });
  raw.sendFrame({ t: "sub", topic, id: 1 });
  await ack;
  raw.pause();
  return { raw, frames };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

/** Publishes until the server reports the slow subscriber lagging (or closed); bounded. */
async function publishUntilLagging(server: TestServer, topic: string, fast: TestClient): Promise<number> {
  let n = 0;
  const start = server.stats().slowConsumers;
  for (; n < 3000; n++) {
    server.publish(topic, { n, pad: PAD }, { key: KEYS[n % KEYS.length] });
    if (n % 8 === 7) {
      await tick();
      const s = server.stats().slowConsumers;
      if (s.lagEvents > start.lagEvents || s.disconnects > start.disconnects) return n + 1;
    }
  }
  throw new Error(`no lag after ${n} publications`);
  void fast;
}

/** Queued bytes of the (single) subscriber lagging on `topic`. */
function laggingBuffered(server: TestServer, topic: string): number {
  const lagging = [...server.broker.index.get(topic)!.lagging.keys()];
  expect(lagging).toHaveLength(1);
  return lagging[0]!.socket!.bufferedAmount();
}

async function fastGetsAll(fast: TestClient, total: number): Promise<void> {
  const got = await fast.collect(total, (f) => f.t === "msg", 20_000);
  expect(got.map((f) => f.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
}

describe("slow consumers", () => {
  test("drop: the slow reader is skipped with bounded memory, then told the exact gap", async () => {
    await using server = await startServer(options);
    const topic = `drop.${uniqueTopic()}`;
    await using fast = await connect(server.wsUrl);
    await subscribe(fast, topic);
    const { raw, frames } = await slowSubscriber(server, topic);
    let total = await publishUntilLagging(server, topic, fast);
    const bufferedAtLag = laggingBuffered(server, topic);
    for (let i = 0; i < 100; i++, total++) server.publish(topic, { n: total, pad: PAD }, { key: "A" });
    // 100 × 60 KB more went out, yet the slow socket's queue did not grow.
    expect(laggingBuffered(server, topic)).toBe(bufferedAtLag);
    expect(bufferedAtLag).toBeLessThan(LIMIT * 8);
    await fastGetsAll(fast, total);

    const gotGap = new Promise<void>((resolve) => {
      raw.resume((p) => {
        const f = unpackr.unpack(p) as Msg;
        frames.push(f);
        if (f.t === "gap") resolve();
      });
    });
    await gotGap;
    server.publish(topic, { n: total, pad: "" });
    total++;
    while (frames.at(-1)?.seq !== total) await tick();
    const msgs = frames.filter((f) => f.t === "msg");
    const gap = frames.find((f) => f.t === "gap")!;
    expect(gap.reason).toBe(GapReason.DROPPED);
    const beforeGap = frames.slice(0, frames.indexOf(gap)).filter((f) => f.t === "msg");
    const lastBefore = beforeGap.at(-1)!.seq!;
    // Every publication is either delivered in order or counted in the gap.
    expect(beforeGap.map((f) => f.seq)).toEqual(Array.from({ length: lastBefore }, (_, i) => i + 1));
    expect(lastBefore + gap.count! + 1).toBe(total);
    expect(msgs.at(-1)!.seq).toBe(total);
    expect(server.stats().slowConsumers.dropped).toBe(gap.count!);
    raw.destroy();
  });

  test("conflate: the slow reader gets the latest value per key; fast readers get every tick", async () => {
    await using server = await startServer(options);
    const topic = `conf.${uniqueTopic()}`;
    await using fast = await connect(server.wsUrl);
    await subscribe(fast, topic);
    const { raw, frames } = await slowSubscriber(server, topic);
    let total = await publishUntilLagging(server, topic, fast);
    const latest = new Map<string, number>();
    for (let i = 0; i < 50; i++, total++) {
      const key = KEYS[total % KEYS.length]!;
      server.publish(topic, { n: total, pad: "" }, { key });
      latest.set(key, total + 1);
    }
    await fastGetsAll(fast, total);

    const done = new Promise<void>((resolve) => {
      raw.resume((p) => {
        const f = unpackr.unpack(p) as Msg;
        frames.push(f);
        const afterGap = frames.slice(frames.findIndex((g) => g.t === "gap") + 1);
        if (frames.some((g) => g.t === "gap") && afterGap.length === latest.size) resolve();
      });
    });
    await done;
    const gapAt = frames.findIndex((f) => f.t === "gap");
    const gap = frames[gapAt]!;
    expect(gap.reason).toBe(GapReason.CONFLATED);
    const flushed = frames.slice(gapAt + 1);
    expect(new Map(flushed.map((f) => [f.key!, f.seq!]))).toEqual(latest);
    expect(flushed.map((f) => f.seq)).toEqual([...flushed.map((f) => f.seq!)].sort((a, b) => a - b));
    const lastBefore = frames.slice(0, gapAt).filter((f) => f.t === "msg").at(-1)!.seq!;
    expect(lastBefore + gap.count! + flushed.length).toBe(total);
    expect(server.stats().topTopics.find((t) => t.topic === topic)!.conflated).toBe(gap.count!);
    raw.destroy();
  });

  test("disconnect: the slow reader is closed with 4008, the fast one keeps going", async () => {
    await using server = await startServer(options);
    const topic = `disc.${uniqueTopic()}`;
    await using fast = await connect(server.wsUrl);
    await subscribe(fast, topic);
    const { raw } = await slowSubscriber(server, topic);
    let total = await publishUntilLagging(server, topic, fast);
    expect(server.stats().slowConsumers.disconnects).toBe(1);
    for (let i = 0; i < 10; i++, total++) server.publish(topic, { n: total, pad: "" });
    await fastGetsAll(fast, total);
    raw.resume(() => {});
    await raw.closed;
    expect(raw.closeCode).toBe(CloseCode.SLOW_CONSUMER);
    expect(server.stats().connections).toBe(1);
  });
});
