/**
 * Two tickgate nodes sharing topics over one real nats-server with
 * JetStream: delivery across nodes, one numbering, recovery and retained
 * values from the stream, concurrent writers, and the server restarting.
 */
import { describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { connect, subscribe, type Frame } from "../helpers/client.ts";
import { startNats } from "../helpers/nats.ts";
import { openSse } from "../helpers/sse.ts";
import { uniqueTopic } from "../helpers/server.ts";
import { POLICIES, startNode, uniqueCluster } from "./support.ts";

const isMsg = (f: Frame) => f.t === "msg";

describe("NatsBus (one nats-server)", () => {
  test("a publication on node A reaches a subscriber on node B, with one seq and one epoch", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    expect(a.bus.epoch).toBe(b.bus.epoch);
    const topic = uniqueTopic();
    await using ca = await connect(a.wsUrl);
    await using cb = await connect(b.wsUrl, { encoding: "json" });
    await subscribe(ca, topic);
    await subscribe(cb, topic);
    ca.send({ t: "pub", id: 1, topic, data: "from a" });
    expect(await ca.next((f) => f.id === 1)).toMatchObject({ t: "ack", seq: 1 });
    expect(await b.server.publish(topic, "from b")).toBe(2);
    const onA = await ca.collect(2, isMsg);
    const onB = await cb.collect(2, isMsg);
    expect(onA.map((f) => [f.seq, f.data, f.epoch])).toEqual([[1, "from a", a.bus.epoch], [2, "from b", a.bus.epoch]]);
    expect(onB.map((f) => [f.seq, f.data, f.epoch])).toEqual(onA.map((f) => [f.seq, f.data, f.epoch]));
  }, 30_000);

  test("a client that moves to the other node recovers exactly once, in order, from the stream", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts, POLICIES);
    await using b = await startNode(opts, POLICIES);
    const topic = `h.${uniqueTopic()}`;
    {
      await using c = await connect(a.wsUrl);
      await subscribe(c, topic);
      for (let i = 1; i <= 5; i++) await a.server.publish(topic, i);
      expect((await c.collect(5, isMsg)).map((f) => f.data)).toEqual([1, 2, 3, 4, 5]);
    }
    // Missed while away; node B never had a subscriber on this topic.
    for (let i = 6; i <= 10; i++) await a.server.publish(topic, i);
    await using c2 = await connect(b.wsUrl);
    c2.send({ t: "sub", id: "r", topic, recover: { epoch: a.bus.epoch, seq: 5 } });
    expect(await c2.next((f) => f.id === "r")).toMatchObject({ t: "ack", seq: 10, epoch: a.bus.epoch, recovery: { ok: true, replayed: 5 } });
    await a.server.publish(topic, 11);
    const got = await c2.collect(6, isMsg);
    expect(got.map((f) => [f.seq, f.data])).toEqual([[6, 6], [7, 7], [8, 8], [9, 9], [10, 10], [11, 11]]);
    // Nothing more: a sentinel publication arrives next, so no duplicate was queued before it.
    await b.server.publish(topic, "end");
    expect(await c2.next(isMsg)).toMatchObject({ seq: 12, data: "end" });
  }, 30_000);

  test("retained values come from the stream to a node that never saw them", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts, POLICIES);
    await using b = await startNode(opts, POLICIES);
    const topic = `r.${uniqueTopic()}`;
    await a.server.publish(topic, "x1", { key: "x" });
    await a.server.publish(topic, "y1", { key: "y" });
    await a.server.publish(topic, "x2", { key: "x" });
    await using c = await connect(b.wsUrl);
    c.send({ t: "sub", id: "s", topic });
    expect(await c.next((f) => f.id === "s")).toMatchObject({ t: "ack", seq: 3, backlog: 2 });
    const snap = await c.collect(2, isMsg);
    expect(snap.map((f) => [f.seq, f.key, f.data])).toEqual([[2, "y", "y1"], [3, "x", "x2"]]);
  }, 30_000);

  test("two nodes publishing to one topic at once never fork its numbering", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    const topic = uniqueTopic();
    await using watcher = await connect(b.wsUrl);
    await subscribe(watcher, topic);
    const N = 40;
    const acks = await Promise.all(
      Array.from({ length: N }, (_, i) => (i % 2 === 0 ? a : b).server.publish(topic, i) as Promise<number>),
    );
    expect([...acks].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const seen = await watcher.collect(N, isMsg);
    expect(seen.map((f) => f.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Each ack names the seq its own publication was delivered under.
    const bySeq = new Map(seen.map((f) => [f.seq, f.data]));
    acks.forEach((seq, i) => expect(bySeq.get(seq)).toBe(i));
  }, 60_000);

  test("a pattern subscription on another node receives every matching topic, in per-topic order", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    const root = uniqueTopic();
    await using c = await connect(b.wsUrl);
    await subscribe(c, `${root}.*`);
    for (let i = 1; i <= 3; i++) {
      await a.server.publish(`${root}.x`, i);
      await a.server.publish(`${root}.y`, i);
    }
    const got = await c.collect(6, isMsg);
    for (const t of ["x", "y"]) expect(got.filter((f) => f.topic === `${root}.${t}`).map((f) => f.seq)).toEqual([1, 2, 3]);
  }, 30_000);

  test("NATS restarted: nodes reconnect, publications during the outage are refused with BUS_UNAVAILABLE, nothing acknowledged is lost", async () => {
    await using nats = await startNats();
    // A publication waits this long for the reconnect before it is refused.
    const opts = { servers: nats.urls, name: uniqueCluster(), publishTimeoutMs: 300 };
    await using a = await startNode(opts, POLICIES);
    await using b = await startNode(opts, POLICIES);
    const topic = `h.${uniqueTopic()}`;
    await using sub = await connect(b.wsUrl);
    await subscribe(sub, topic);
    await using pub = await connect(a.wsUrl);
    for (let i = 1; i <= 5; i++) {
      pub.send({ t: "pub", id: i, topic, data: i });
      expect(await pub.next((f) => f.id === i)).toMatchObject({ t: "ack", seq: i });
    }
    expect((await sub.collect(5, isMsg)).map((f) => f.seq)).toEqual([1, 2, 3, 4, 5]);

    const down = Promise.all([a.bus.until("disconnected"), b.bus.until("disconnected")]);
    await nats.servers[0]!.kill();
    await down;
    pub.send({ t: "pub", id: "out", topic, data: "during outage" });
    expect(await pub.next((f) => f.id === "out")).toMatchObject({ t: "error", code: ErrorCode.BUS_UNAVAILABLE });
    await expect(a.server.publish(topic, "server side") as Promise<number>).rejects.toMatchObject({ code: ErrorCode.BUS_UNAVAILABLE });

    const up = Promise.all([a.bus.until("connected"), b.bus.until("connected")]);
    await nats.servers[0]!.restart();
    await up;
    pub.send({ t: "pub", id: 6, topic, data: 6 });
    expect(await pub.next((f) => f.id === 6)).toMatchObject({ t: "ack", seq: 6 });
    expect(await sub.next(isMsg)).toMatchObject({ seq: 6, data: 6 });
    // The stream kept every acknowledged publication, and nothing refused.
    await using late = await connect(a.wsUrl);
    late.send({ t: "sub", id: "r", topic, recover: { epoch: a.bus.epoch, seq: 0 } });
    expect(await late.next((f) => f.id === "r")).toMatchObject({ seq: 6, recovery: { ok: true, replayed: 6 } });
    expect((await late.collect(6, isMsg)).map((f) => f.data)).toEqual([1, 2, 3, 4, 5, 6]);
  }, 60_000);

  test("a device's presence on node A reaches watchers on node B, live and retained", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    const id = `dev-${Math.random().toString(36).slice(2, 8)}`;
    const topic = `devices.${id}.presence`;
    await using live = await connect(b.wsUrl);
    await subscribe(live, topic);
    const dev = await connect(a.wsUrl);
    dev.send({ t: "hello", id: "h", client: "device", device: id });
    expect(await dev.next((f) => f.id === "h")).toMatchObject({ t: "ack" });
    expect(await live.next(isMsg)).toMatchObject({ topic, seq: 1, data: { state: "online", session: dev.welcome.session } });
    dev.close();
    expect(await live.next(isMsg)).toMatchObject({ topic, seq: 2, data: { state: "offline", reason: "normal" } });
    // A watcher arriving later on B gets the retained state from the stream.
    await using late = await connect(b.wsUrl);
    late.send({ t: "sub", id: "p", topic: "devices.*.presence" });
    await late.next((f) => f.id === "p");
    expect(await late.next((f) => isMsg(f) && f.topic === topic)).toMatchObject({ seq: 2, data: { state: "offline" } });
  }, 30_000);

  test("keys and tags of any spelling cross nodes intact, and filters apply on the receiving node", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    const topic = uniqueTopic();
    const key = "k,1%2C\r\n: é 🙂";
    const tags = ["a,b", "100%", "line\nbreak", "ü"];
    await using all = await connect(b.wsUrl);
    await subscribe(all, topic);
    await using filtered = await connect(b.wsUrl);
    filtered.send({ t: "sub", id: "f", topic, filter: { any: ["100%"] } });
    expect(await filtered.next((f) => f.id === "f")).toMatchObject({ t: "ack" });
    await a.server.publish(topic, "plain");
    await a.server.publish(topic, "tagged", { key, tags });
    const got = await all.collect(2, isMsg);
    expect(got[1]).toMatchObject({ seq: 2, key, data: "tagged" });
    expect(got[1]!.tags).toEqual(tags);
    expect(await filtered.next(isMsg)).toMatchObject({ seq: 2, data: "tagged" });
  }, 30_000);

  test("an SSE stream on node B gets node A's publications and recovers from the stream", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts, POLICIES);
    await using b = await startNode(opts, POLICIES);
    const topic = `h.${uniqueTopic()}`;
    for (let i = 1; i <= 3; i++) await a.server.publish(topic, i);
    const base = `http://127.0.0.1:${b.server.port}`;
    await using sse = await openSse(`${base}/sse?topic=${topic}`, { "last-event-id": `${a.bus.epoch},${topic} 1` });
    expect((await sse.next((e) => e.event === "ack")).data).toMatchObject({ topic, seq: 3, recovery: { ok: true, replayed: 2 } });
    await a.server.publish(topic, 4);
    expect((await sse.collect(3, (e) => e.event === "msg")).map((e) => [e.data.seq, e.data.data])).toEqual([[2, 2], [3, 3], [4, 4]]);
  }, 30_000);

  test("publications queued on one node for one topic go as batches, numbered in call order", async () => {
    await using nats = await startNats();
    const name = uniqueCluster();
    const opts = { servers: nats.urls, name };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    const topic = uniqueTopic();
    await using watcher = await connect(b.wsUrl);
    await subscribe(watcher, topic);
    const N = 200;
    const acks = await Promise.all(Array.from({ length: N }, (_, i) => a.server.publish(topic, i, { key: `k${i % 3}`, tags: [`t${i % 2}`] }) as Promise<number>));
    expect(acks).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const seen = await watcher.collect(N, isMsg);
    expect(seen.map((f) => [f.seq, f.data, f.key, f.tags])).toEqual(acks.map((s, i) => [s, i, `k${i % 3}`, [`t${i % 2}`]]));
    // Fewer stored messages than publications: they travelled in batches.
    const nc = await natsConnect({ servers: nats.urls });
    const stored = (await (await jetstreamManager(nc)).streams.info(`TICKGATE_${name}`)).state.messages;
    await nc.close();
    expect(stored).toBeLessThan(N);
  }, 30_000);
});
