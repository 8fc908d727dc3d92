// Issue 16, item 1: topic life cycle. Before it, 20 unauthenticated
// connections could fill `maxTopics` at the default configuration within
// their publish limits, after which nobody could create a topic and a device
// got no `online` presence, until restart; nothing was ever evicted.
import { describe, expect, test } from "bun:test";
import { packr, unpackr } from "../../src/protocol/codec.ts";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { connect, subscribe, type Frame, type TestClient } from "../helpers/client.ts";
import { rawConnect } from "../helpers/raw-ws.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";

const msgOn = (topic: string) => (f: Frame) => f.t === "msg" && f.topic === topic;

/** Waits until `cond` holds; bounded, so a state that never comes fails the test. */
async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * One connection creating `n` distinct topics within the default publish
 * allowance (burst 2000, then 1000/s): the burst at once, then 900 per
 * second. Resolves when the server has answered the last one (a pong after
 * it), or when the server closed the connection.
 */
async function createTopics(c: TestClient, prefix: string, n: number): Promise<void> {
  const closed = c.closed.then(() => undefined);
  let sent = 0;
  const batch = (k: number) => {
    for (let i = 0; i < k && sent < n; i++, sent++) c.ws.send(packr.pack({ t: "pub", topic: `${prefix}.${sent}`, data: 1 }) as Uint8Array<ArrayBuffer>);
  };
  batch(2000);
  while (sent < n && c.ws.readyState === WebSocket.OPEN) {
    await Promise.race([new Promise((r) => setTimeout(r, 1000)), closed]);
    if (c.ws.readyState === WebSocket.OPEN) batch(900);
  }
  if (c.ws.readyState !== WebSocket.OPEN) return;
  c.send({ t: "ping", id: "done" });
  await Promise.race([c.next((f) => f.id === "done", 60_000), closed]);
}

describe("topic life cycle", () => {
  test("20 anonymous connections at the default configuration lock nobody out of creating topics", async () => {
    await using server = await startServer();
    const flooders = await Promise.all(Array.from({ length: 20 }, () => connect(server.wsUrl)));
    await Promise.all(flooders.map((c, i) => createTopics(c, `flood.${i}`, 5000)));
    // Another caller (another address) still creates a topic.
    const other = await rawConnect(server.port, "/ws", { localAddress: "127.0.0.2" });
    const answers: Record<string, unknown>[] = [];
    let answered!: () => void;
    const got = new Promise<void>((r) => (answered = r));
    other.resume((p) => {
      const f = unpackr.unpack(p) as Record<string, unknown>;
      answers.push(f);
      if (f.id === 1) answered();
    });
    other.sendFrame({ t: "pub", id: 1, topic: uniqueTopic("other"), data: "hello" });
    await got;
    expect(answers.find((f) => f.id === 1)).toMatchObject({ t: "ack", id: 1 });
    other.destroy();

    // A device, even from the flooders' address, gets its `online` presence.
    await using w = await connect(server.wsUrl);
    await subscribe(w, "devices.>");
    await using d = await connect(server.wsUrl, { encoding: "json" });
    d.send({ t: "hello", id: "h", client: "device", device: "after-flood" });
    expect((await w.next(msgOn("devices.after-flood.presence"))).data).toMatchObject({ state: "online" });

    // The address's share stopped the flood well short of maxTopics.
    expect(server.broker.topics.size).toBeLessThanOrEqual(server.options.topicLimits.perIdentity + 2);
    expect(server.broker.lifecycle.counters.quotaRefused).toBeGreaterThan(0);
    expect(flooders[0]!.frames.find((f) => f.t === "error")?.code).toBe(ErrorCode.TOPIC_QUOTA);
    for (const c of flooders) await c[Symbol.asyncDispose]();
  }, 120_000);

  test("a caller past its per-connection share gets TOPIC_QUOTA, and gets it back once its topics are evicted", async () => {
    await using server = await startServer({ topicLimits: { perConnection: 3, idleMs: 20 } });
    await using c = await connect(server.wsUrl);
    const base = uniqueTopic("quota");
    // Held by a subscriber, its topics cannot be evicted while the quota is checked.
    await subscribe(c, `${base}.>`);
    for (let i = 0; i < 3; i++) {
      c.send({ t: "pub", id: i, topic: `${base}.${i}`, data: i });
      expect((await c.next((f) => f.id === i)).t).toBe("ack");
    }
    c.send({ t: "pub", id: 3, topic: `${base}.3`, data: 3 });
    expect(await c.next((f) => f.id === 3)).toMatchObject({ t: "error", code: ErrorCode.TOPIC_QUOTA });
    // Publishing to a topic it already created is not creation.
    c.send({ t: "pub", id: 4, topic: `${base}.0`, data: 4 });
    expect((await c.next((f) => f.id === 4)).t).toBe("ack");
    c.send({ t: "unsub", id: "u", topic: `${base}.>` });
    await c.next((f) => f.id === "u");
    await until(() => !server.broker.topics.has(`${base}.0`));
    c.send({ t: "pub", id: 5, topic: `${base}.3`, data: 5 });
    expect((await c.next((f) => f.id === 5)).t).toBe("ack");
  });

  test("recovery across an eviction answers 'epoch' and sends the new snapshot", async () => {
    await using server = await startServer({
      topicLimits: { idleMs: 20 },
      // Long enough for the new life's snapshot to be there when asked for, on a busy machine.
      policies: [{ match: "life.>", retain: true, retainTtlMs: 1000, historySize: 10, historyTtlMs: 1000 }],
    });
    const topic = uniqueTopic("life");
    await using c = await connect(server.wsUrl);
    await subscribe(c, topic);
    for (let i = 1; i <= 3; i++) server.publish(topic, { i });
    const last = (await c.collect(3, msgOn(topic)))[2]!;
    expect(last.seq).toBe(3);
    c.send({ t: "unsub", id: "u", topic });
    await c.next((f) => f.id === "u");
    await until(() => !server.broker.topics.has(topic));

    // Gone: a position in it can no longer be recovered.
    c.send({ t: "sub", id: "r1", topic, recover: { epoch: last.epoch, seq: 3 } });
    expect((await c.next((f) => f.id === "r1")).recovery).toMatchObject({ ok: false, reason: "epoch" });
    c.send({ t: "unsub", id: "u1", topic });
    await c.next((f) => f.id === "u1");

    // Created again: a new epoch, seq from 1. A watcher holds it, so it stays until `c` asks.
    await using w = await connect(server.wsUrl);
    await subscribe(w, topic);
    server.publish(topic, { i: "new" });
    await w.next(msgOn(topic));
    c.send({ t: "sub", id: "r2", topic, recover: { epoch: last.epoch, seq: 3 } });
    const ack = await c.next((f) => f.id === "r2");
    expect(ack.recovery).toMatchObject({ ok: false, reason: "epoch" });
    expect(ack.epoch).not.toBe(last.epoch);
    expect(ack.seq).toBe(1);
    const snapshot = await c.next(msgOn(topic));
    expect(snapshot).toMatchObject({ seq: 1, epoch: ack.epoch, data: { i: "new" } });
  });

  test("memory returns to its baseline after 100,000 topics come and go", async () => {
    await using server = await startServer({ topicLimits: { idleMs: 0 } });
    const heap = () => {
      Bun.gc(true);
      return process.memoryUsage().heapUsed;
    };
    // Warm-up: the same path once, so lazily built code and caches are in the baseline.
    for (let i = 0; i < 1000; i++) server.publish(`warm.${i}`, i);
    await until(() => server.broker.topics.size === 0);
    const baseline = heap();
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 10_000; i++) server.publish(`churn.${round}.${i}`, { round, i });
      // Yield so the sweep runs between rounds.
      await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => server.broker.topics.size === 0);
    expect(server.broker.lifecycle.counters.evicted).toBeGreaterThanOrEqual(101_000);
    expect(server.broker.lifecycle.identities).toBe(0);
    expect(heap() - baseline).toBeLessThan(16 * 1024 * 1024);
  }, 60_000);
});
