import { describe, expect, test } from "bun:test";
import { unpackr } from "../../src/protocol/codec.ts";
import { connect, type Frame } from "../helpers/client.ts";
import { rawConnect } from "../helpers/raw-ws.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";

const withHistory = (size: number, extra: Record<string, unknown> = {}) => ({ policies: [{ match: "h.>", historySize: size, ...extra }] });

describe("recovery: history and resubscribe", () => {
  test("replays what was missed, in order, then goes live without gap or duplicate", async () => {
    await using server = await startServer(withHistory(100));
    const topic = `h.${uniqueTopic()}`;
    for (let i = 1; i <= 10; i++) server.publish(topic, i);
    await using c = await connect(server.wsUrl);
    c.send({ t: "sub", id: 1, topic, recover: { epoch: server.broker.bus.epoch, seq: 4 } });
    const ack = await c.next((f) => f.id === 1);
    expect(ack).toMatchObject({ t: "ack", seq: 10, epoch: server.broker.bus.epoch, recovery: { ok: true, replayed: 6 } });
    server.publish(topic, 11);
    const got = await c.collect(7, (f) => f.t === "msg");
    expect(got.map((f) => f.seq)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(got.map((f) => f.data)).toEqual([5, 6, 7, 8, 9, 10, 11]);
  });

  test("says 'window' when the position fell out of history, and sends the retained snapshot", async () => {
    await using server = await startServer(withHistory(5, { retain: true }));
    const topic = `h.${uniqueTopic()}`;
    for (let i = 1; i <= 20; i++) server.publish(topic, i);
    await using c = await connect(server.wsUrl);
    c.send({ t: "sub", id: 1, topic, recover: { epoch: server.broker.bus.epoch, seq: 3 } });
    expect((await c.next((f) => f.id === 1)).recovery).toEqual({ ok: false, replayed: 0, reason: "window" });
    expect((await c.next((f) => f.t === "msg")).seq).toBe(20);
  });

  test("an age limit evicts old publications from the window", async () => {
    await using server = await startServer(withHistory(100, { historyTtlMs: 1 }));
    const topic = `h.${uniqueTopic()}`;
    for (let i = 1; i <= 5; i++) server.publish(topic, i);
    await new Promise((r) => setTimeout(r, 20));
    await using c = await connect(server.wsUrl);
    c.send({ t: "sub", id: 1, topic, recover: { epoch: server.broker.bus.epoch, seq: 2 } });
    expect((await c.next((f) => f.id === 1)).recovery).toMatchObject({ ok: false, reason: "window" });
  });

  test("says 'epoch' after a restart", async () => {
    const first = await startServer(withHistory(100));
    const topic = `h.${uniqueTopic()}`;
    first.publish(topic, 1);
    const oldEpoch = first.broker.bus.epoch;
    const port = first.port;
    await first.close();
    await using second = await startServer({ ...withHistory(100), port });
    expect(second.broker.bus.epoch).not.toBe(oldEpoch);
    await using c = await connect(second.wsUrl);
    c.send({ t: "sub", id: 1, topic, recover: { epoch: oldEpoch, seq: 1 } });
    expect((await c.next((f) => f.id === 1)).recovery).toEqual({ ok: false, replayed: 0, reason: "epoch" });
  });

  test("pattern subscriptions recover each topic from its own position", async () => {
    await using server = await startServer(withHistory(100));
    const root = `h.${uniqueTopic()}`;
    for (let i = 1; i <= 3; i++) {
      server.publish(`${root}.a`, `a${i}`);
      server.publish(`${root}.b`, `b${i}`);
    }
    await using c = await connect(server.wsUrl, { encoding: "json" });
    c.send({ t: "sub", id: 1, topic: `${root}.*`, recover: { epoch: server.broker.bus.epoch, topics: { [`${root}.a`]: 1, [`${root}.b`]: 2 } } });
    expect((await c.next((f) => f.id === 1)).recovery).toEqual({ ok: true, replayed: 3 });
    const got = await c.collect(3, (f) => f.t === "msg");
    expect(got.filter((f) => f.topic.endsWith(".a")).map((f) => f.data)).toEqual(["a2", "a3"]);
    expect(got.filter((f) => f.topic.endsWith(".b")).map((f) => f.data)).toEqual(["b3"]);
  });

  test("a dropped TCP connection loses nothing within the window, while publishing goes on", async () => {
    await using server = await startServer(withHistory(10_000));
    const topic = `h.${uniqueTopic()}`;
    let n = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < 20; i++) server.publish(topic, ++n);
    }, 2);
    try {
      const raw = await rawConnect(server.port);
      const seen: Frame[] = [];
      let subscribed: () => void;
      const ok = new Promise<void>((r) => (subscribed = r));
      raw.resume((p) => {
        const f = unpackr.unpack(p) as Frame;
        if (f.t === "ack") subscribed();
        if (f.t === "msg") seen.push(f);
      });
      raw.sendFrame({ t: "sub", id: 1, topic });
      await ok;
      while (seen.length < 200) await new Promise((r) => setTimeout(r, 5));
      raw.destroy(); // abrupt: no close frame
      await new Promise((r) => setTimeout(r, 30)); // publishing continues meanwhile
      const last = seen.at(-1)!;
      await using c = await connect(server.wsUrl);
      c.send({ t: "sub", id: 2, topic, recover: { epoch: last.epoch, seq: last.seq } });
      const ack = await c.next((f) => f.id === 2);
      expect(ack.recovery.ok).toBe(true);
      const target = ack.seq + 100;
      const after: Frame[] = [];
      while ((after.at(-1)?.seq ?? 0) < target) after.push(await c.next((f) => f.t === "msg"));
      const all = [...seen, ...after].map((f) => f.seq as number);
      // Publishing began before the subscription: contiguous from the first one seen.
      expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + all[0]!));
      expect(all.map((s, i) => [...seen, ...after][i]!.data === s).every(Boolean)).toBe(true);
    } finally {
      clearInterval(timer);
    }
  });

  test("ordering: every subscriber sees every topic's seqs strictly increasing under concurrent publishers", async () => {
    await using server = await startServer();
    const topics = [uniqueTopic(), uniqueTopic(), uniqueTopic()];
    await using sub = await connect(server.wsUrl);
    for (const t of topics) sub.send({ t: "sub", id: t, topic: t });
    await sub.collect(3, (f) => f.t === "ack");
    const pubs = await Promise.all([0, 1, 2, 3].map(() => connect(server.wsUrl)));
    for (let i = 0; i < 100; i++) for (const [k, p] of pubs.entries()) p.send({ t: "pub", topic: topics[(i + k) % 3]!, data: i });
    const got = await sub.collect(400, (f) => f.t === "msg");
    for (const t of topics) {
      const seqs = got.filter((f) => f.topic === t).map((f) => f.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    }
    await Promise.all(pubs.map((p) => p[Symbol.asyncDispose]()));
  });
});
