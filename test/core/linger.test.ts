/**
 * Write coalescing (issue 17, item 3): a topic's `linger` holds publications
 * and hands them to the native fan-out together, yet seq, history, retained
 * values, recovery, ordering and every backpressure action behave exactly as
 * without it. Real sockets; every wait is on a frame or a state change.
 */
import { describe, expect, test } from "bun:test";
import { createServer } from "../../src/adapter/bun/index.ts";
import { internals } from "../../src/internal.ts";
import { unpackr } from "../../src/protocol/codec.ts";
import { CloseCode, GapReason } from "../../src/protocol/codes.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { CountingTransport } from "../helpers/counting-transport.ts";
import { rawConnect, type RawClient } from "../helpers/raw-ws.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const turn = () => new Promise((r) => setImmediate(r));

async function counted(opts: Record<string, unknown>) {
  const transport = new CountingTransport();
  const server = internals(createServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 500, ...opts }, { transport }));
  const { port } = await server.listen();
  return { server, transport, port, url: `ws://127.0.0.1:${port}/ws`, [Symbol.asyncDispose]: () => server.close() };
}

describe("linger: publication state is assigned at publish time", () => {
  test("held publications already have their seq, history and retained value; a new subscriber gets them once", async () => {
    // A long linger, so nothing but a subscription can flush the window in this test.
    await using s = await counted({ policies: [{ match: "lg.>", linger: 1000, retain: true, historySize: 100 }] });
    const topic = uniqueTopic("lg");
    await using a = await connect(s.url);
    await subscribe(a, topic);
    const seqs = [1, 2, 3].map((i) => s.server.publish(topic, { i }) as number);
    expect(seqs).toEqual([1, 2, 3]);
    const t = s.server.broker.topics.get(topic)!;
    expect(t.seq).toBe(3);
    expect(t.history!.since(0, 3)!.map((p) => p.seq)).toEqual([1, 2, 3]);
    expect(t.retained!.get("")!.seq).toBe(3);
    // Held, not yet handed to the native fan-out (same turn: no timer can have run).
    expect(s.server.broker.coalescer.pending).toBe(3);
    expect(s.transport.published.get(`b|${topic}`)).toBeUndefined();

    // A subscriber joining now: its ack says seq 3, it gets the retained value, and never 1..3 live.
    await using b = await connect(s.url);
    b.send({ t: "sub", id: "b", topic });
    const ack = await b.next((f) => f.id === "b");
    expect(ack).toMatchObject({ t: "ack", seq: 3, backlog: 1 });
    // Its join flushed the window to those already subscribed.
    expect((await a.collect(3, (f) => f.t === "msg")).map((f) => f.seq)).toEqual([1, 2, 3]);
    expect(s.transport.published.get(`b|${topic}`)).toBe(3);
    s.server.publish(topic, { i: 4 });
    expect((await a.next((f) => f.t === "msg")).seq).toBe(4);
    const bGot = await b.collect(2, (f) => f.t === "msg");
    expect(bGot.map((f) => f.seq)).toEqual([3, 4]);
  });

  test("recovery over a held window replays from history and repeats nothing live", async () => {
    await using server = await startServer({ policies: [{ match: "lr.>", linger: 1000, historySize: 100 }] });
    const topic = uniqueTopic("lr");
    await using a = await connect(server.wsUrl);
    await subscribe(a, topic);
    for (let i = 1; i <= 2; i++) server.publish(topic, i);
    // Flushed by this subscription, which saw 1 and 2.
    await using b = await connect(server.wsUrl);
    await subscribe(b, topic);
    for (let i = 3; i <= 6; i++) server.publish(topic, i);
    const epoch = server.broker.topics.get(topic)!.epoch;
    await using c = await connect(server.wsUrl);
    c.send({ t: "sub", id: "c", topic, recover: { epoch, seq: 2 } });
    const ack = await c.next((f) => f.id === "c");
    expect(ack.recovery).toEqual({ ok: true, replayed: 4 });
    server.publish(topic, 7);
    const got = await c.collect(5, (f) => f.t === "msg");
    expect(got.map((f) => f.seq)).toEqual([3, 4, 5, 6, 7]);
    expect((await a.collect(7, (f) => f.t === "msg")).map((f) => f.seq)).toEqual(range(1, 7));
  });

  for (const linger of [2, "adaptive"] as const) {
    test(`linger ${linger}: client publications arrive in order, acked with their seq, over many windows`, async () => {
      await using server = await startServer({ policies: [{ match: "lo.>", linger }] });
      const topic = uniqueTopic("lo");
      await using sub = await connect(server.wsUrl);
      await subscribe(sub, topic);
      await using pub = await connect(server.wsUrl);
      const N = 600;
      for (let i = 1; i <= N; i++) {
        pub.send({ t: "pub", id: i, topic, data: i });
        if (i % 50 === 0) await pub.next((f) => f.id === i);
      }
      const acks = await pub.collect(N - N / 50, (f) => f.t === "ack");
      for (const a of acks) expect(a.seq).toBe(a.id);
      const got = await sub.collect(N, (f) => f.t === "msg", 20_000);
      expect(got.map((f) => f.seq)).toEqual(range(1, N));
      expect(got.map((f) => f.data)).toEqual(range(1, N));
    });
  }

  test("topics sharing a linger share its window: a pattern subscriber gets each topic in order", async () => {
    await using s = await counted({ policies: [{ match: "lp.>", linger: 5 }] });
    const root = uniqueTopic("lp");
    await using sub = await connect(s.url);
    await subscribe(sub, `${root}.>`);
    const N = 300;
    for (let i = 0; i < N; i++) {
      s.server.publish(`${root}.s${i % 10}`, i);
      if (i % 30 === 29) await turn();
    }
    const got = await sub.collect(N, (f) => f.t === "msg", 20_000);
    for (let k = 0; k < 10; k++) {
      const mine = got.filter((f) => f.topic === `${root}.s${k}`);
      expect(mine.map((f) => f.seq)).toEqual(range(1, N / 10));
    }
  });

  test("close hands held publications out before the sockets close", async () => {
    const server = await startServer({ drainMs: 0, policies: [{ match: "lc.>", linger: 1000 }] });
    const topic = uniqueTopic("lc");
    await using sub = await connect(server.wsUrl);
    await subscribe(sub, topic);
    for (let i = 1; i <= 5; i++) server.publish(topic, i);
    await server.close();
    const got = await sub.collect(5, (f) => f.t === "msg");
    expect(got.map((f) => f.seq)).toEqual(range(1, 5));
  });
});

// ---- backpressure with linger on: the same three actions, the same exact accounting ----

const LIMIT = 256 * 1024;
const PAD = "x".repeat(60_000);
const KEYS = ["A", "B", "C", "D", "E"];
const bpOptions = (linger: number | "adaptive") => ({
  slowConsumer: { checkIntervalMs: 10, nativeLimitBytes: 64 * 1024 * 1024 },
  defaultPolicy: { maxPayload: 128 * 1024, limitBytes: LIMIT },
  policies: [
    { match: "drop.>", action: "drop", linger },
    { match: "conf.>", action: "conflate", linger },
    { match: "disc.>", action: "disconnect", linger },
  ],
});

type Msg = { t: string; seq?: number; key?: string; reason?: string; count?: number; id?: number; msgs?: Msg[] };

/** Frames of one WebSocket message, a batch's publications one by one. */
function flatten(payload: Uint8Array): Msg[] {
  const f = unpackr.unpack(payload) as Msg;
  return f.t === "batch" ? f.msgs! : [f];
}

/** A raw subscriber (taking batch frames or not) that reads until subscribed, then stops reading. */
async function slowSubscriber(server: TestServer, topic: string, batch: boolean): Promise<{ raw: RawClient; frames: Msg[] }> {
  const raw = await rawConnect(server.port, batch ? "/ws?batch=1" : "/ws");
  const frames: Msg[] = [];
  let acked: () => void;
  const ack = new Promise<void>((r) => (acked = r));
  raw.resume((p) => {
    for (const f of flatten(p)) {
      frames.push(f);
      if (f.t === "ack" && f.id === 1) acked();
    }
  });
  raw.sendFrame({ t: "sub", topic, id: 1 });
  await ack;
  raw.pause();
  return { raw, frames };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

async function publishUntilLagging(server: TestServer, topic: string): Promise<number> {
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
}

async function fastGetsAll(fast: TestClient, total: number): Promise<void> {
  const got = await fast.collect(total, (f) => f.t === "msg", 20_000);
  expect(got.map((f) => f.seq)).toEqual(range(1, total));
}

for (const [linger, batch] of [[5, false], ["adaptive", false], [5, true]] as const) {
  describe(`slow consumers with linger ${linger}${batch ? " and batch frames" : ""}`, () => {
    test("drop: the slow reader is skipped, then told the exact gap", async () => {
      await using server = await startServer(bpOptions(linger));
      const topic = `drop.${uniqueTopic()}`;
      await using fast = await connect(server.wsUrl);
      await subscribe(fast, topic);
      const { raw, frames } = await slowSubscriber(server, topic, batch);
      let total = await publishUntilLagging(server, topic);
      for (let i = 0; i < 100; i++, total++) server.publish(topic, { n: total, pad: PAD }, { key: "A" });
      await fastGetsAll(fast, total);
      const gotGap = new Promise<void>((resolve) => {
        raw.resume((p) => {
          for (const f of flatten(p)) {
            frames.push(f);
            if (f.t === "gap") resolve();
          }
        });
      });
      await gotGap;
      server.publish(topic, { n: total, pad: "" });
      total++;
      while (frames.at(-1)?.seq !== total) await tick();
      const gap = frames.find((f) => f.t === "gap")!;
      expect(gap.reason).toBe(GapReason.DROPPED);
      const beforeGap = frames.slice(0, frames.indexOf(gap)).filter((f) => f.t === "msg");
      const lastBefore = beforeGap.at(-1)!.seq!;
      expect(beforeGap.map((f) => f.seq)).toEqual(range(1, lastBefore));
      const afterGap = frames.slice(frames.indexOf(gap) + 1).filter((f) => f.t === "msg");
      // Every publication is either delivered in order or counted in the gap.
      expect(afterGap.map((f) => f.seq)).toEqual(range(lastBefore + gap.count! + 1, total));
      expect(server.stats().slowConsumers.dropped).toBe(gap.count!);
      raw.destroy();
    });

    test("conflate: the slow reader gets the latest value per key; the fast one every tick", async () => {
      await using server = await startServer(bpOptions(linger));
      const topic = `conf.${uniqueTopic()}`;
      await using fast = await connect(server.wsUrl);
      await subscribe(fast, topic);
      const { raw, frames } = await slowSubscriber(server, topic, batch);
      let total = await publishUntilLagging(server, topic);
      const latest = new Map<string, number>();
      for (let i = 0; i < 50; i++, total++) {
        const key = KEYS[total % KEYS.length]!;
        server.publish(topic, { n: total, pad: "" }, { key });
        latest.set(key, total + 1);
      }
      await fastGetsAll(fast, total);
      // Drained, the slow reader must end on the latest value of every key.
      const done = new Promise<void>((resolve) => {
        raw.resume((p) => {
          for (const f of flatten(p)) frames.push(f);
          const gapAt = frames.findIndex((g) => g.t === "gap");
          if (gapAt >= 0 && frames.length - gapAt - 1 >= latest.size) resolve();
        });
      });
      await done;
      const gapAt = frames.findIndex((f) => f.t === "gap");
      expect(frames[gapAt]!.reason).toBe(GapReason.CONFLATED);
      const flushed = frames.slice(gapAt + 1);
      expect(new Map(flushed.map((f) => [f.key!, f.seq!]))).toEqual(latest);
      const lastBefore = frames.slice(0, gapAt).filter((f) => f.t === "msg").at(-1)!.seq!;
      expect(lastBefore + frames[gapAt]!.count! + flushed.length).toBe(total);
      raw.destroy();
    });

    test("disconnect: the slow reader is closed with 4008, the fast one keeps going", async () => {
      await using server = await startServer(bpOptions(linger));
      const topic = `disc.${uniqueTopic()}`;
      await using fast = await connect(server.wsUrl);
      await subscribe(fast, topic);
      const { raw } = await slowSubscriber(server, topic, batch);
      let total = await publishUntilLagging(server, topic);
      expect(server.stats().slowConsumers.disconnects).toBe(1);
      for (let i = 0; i < 10; i++, total++) server.publish(topic, { n: total, pad: "" });
      await fastGetsAll(fast, total);
      raw.resume(() => {});
      await raw.closed;
      expect(raw.closeCode).toBe(CloseCode.SLOW_CONSUMER);
    });
  });
}
