/**
 * Issue 17, item 1: the slow-consumer sweep costs per lagging socket, not
 * per subscriber. It used to read the queue of every subscriber of every
 * channel published to since the last sweep, 20 times a second. Now a
 * channel's members are looked at once it has sent a quarter of its limit
 * since their last look, and between those only sockets that could be near
 * their limit are. These tests run the sweep by hand (its timer stopped),
 * so what it looks at is exact, and check that it still finds every reader
 * past its limit at the first sweep after, on one topic or several.
 */
import { describe, expect, test } from "bun:test";
import { unpackr } from "../../src/protocol/codec.ts";
import type { Session } from "../../src/core/session.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { rawConnect, type RawClient } from "../helpers/raw-ws.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";

const LIMIT = 64 * 1024;

/** A raw subscriber to `topics` that stops reading once they are all acked. */
async function stuckReader(server: TestServer, topics: string[]): Promise<RawClient> {
  const raw = await rawConnect(server.port, "/ws");
  let left = topics.length;
  let acked!: () => void;
  const all = new Promise<void>((r) => (acked = r));
  raw.resume((p) => {
    const f = unpackr.unpack(p) as { t: string };
    if (f.t === "ack" && --left === 0) acked();
  });
  topics.forEach((topic, i) => raw.sendFrame({ t: "sub", topic, id: i + 1 }));
  await all;
  raw.pause();
  return raw;
}

/** Every session subscribed to any of `topics`. */
function sessionsOf(server: TestServer, topics: string[]): Session[] {
  const out = new Set<Session>();
  for (const t of topics) for (const s of server.broker.index.get(t)?.members ?? []) out.add(s);
  return [...out];
}

/** A fixed pseudo-random sequence, so a failure replays. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const turn = () => new Promise((r) => setImmediate(r));

describe("slow-consumer sweep (issue 17)", () => {
  test("a sweep looks at no reader that cannot be near its limit, and at each member once per quarter limit sent (issue 17)", async () => {
    await using server = await startServer({ defaultPolicy: { limitBytes: 256 * 1024 } });
    server.guard.stop();
    const topic = uniqueTopic("sweep");
    const readers: TestClient[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await connect(server.wsUrl);
      await subscribe(c, topic);
      readers.push(c);
    }
    // 100 small publications: far less than a quarter of the limit per reader.
    for (let n = 0; n < 100; n++) server.publish(topic, { n });
    await Promise.all(readers.map((c) => c.collect(100, (f) => f.t === "msg")));
    for (let i = 0; i < 3; i++) server.guard.sweep();
    expect(server.guard.looks).toBe(0);
    expect(server.guard.watchedSessions).toBe(0);

    // 80 KiB more: past a quarter of the limit, so the next sweep looks at every member, once.
    const pad = "x".repeat(8 * 1024);
    for (let n = 0; n < 10; n++) server.publish(topic, { n, pad });
    await Promise.all(readers.map((c) => c.collect(10, (f) => f.t === "msg")));
    server.guard.sweep();
    expect(server.guard.looks).toBe(20);
    server.guard.sweep();
    expect(server.guard.looks).toBe(20);
    expect(server.stats().slowConsumers.lagEvents).toBe(0);
    for (const c of readers) c.close();
  });

  test("every reader past its limit is taken off at the first sweep after, on one topic or five (issue 17)", async () => {
    await using server = await startServer({
      defaultPolicy: { maxPayload: 64 * 1024, limitBytes: LIMIT },
      policies: [{ match: "sweep.>", action: "drop" }],
    });
    server.guard.stop();
    const topics = Array.from({ length: 5 }, () => uniqueTopic("sweep"));
    await using fast = await connect(server.wsUrl);
    for (const t of topics) await subscribe(fast, t);
    const one = await stuckReader(server, [topics[0]!]);
    const five = await stuckReader(server, topics);
    const sessions = sessionsOf(server, topics);
    expect(sessions).toHaveLength(3);
    const fastSession = sessions.find((s) => s.id === fast.welcome.session)!;
    const stuck = sessions.filter((s) => s !== fastSession);
    const lagsEverywhere = (s: Session) => [...s.subs.values()].every((ch) => ch.lagging.has(s));
    const rnd = seeded(17);
    let checked = 0;
    for (let n = 0; n < 6000 && !stuck.every(lagsEverywhere); n++) {
      // Topic 0 gets the most, so the one-topic reader fills too.
      const topic = topics[rnd() < 0.4 ? 0 : Math.floor(rnd() * 5)]!;
      server.publish(topic, { n, pad: "x".repeat(500 + Math.floor(rnd() * 12_000)) });
      if (n % 4 !== 3) continue;
      await turn();
      // Read and swept in one synchronous stretch: the queues cannot move in between.
      const over = sessions.filter((s) => s.socket!.bufferedAmount() > LIMIT);
      server.guard.sweep();
      for (const s of over) expect(lagsEverywhere(s)).toBe(true);
      checked += over.length;
    }
    // Both stuck readers were found, each on all its topics; the reader that reads never was.
    expect(stuck.map((s) => s.subs.size).sort()).toEqual([1, 5]);
    for (const s of stuck) expect(lagsEverywhere(s)).toBe(true);
    expect(checked).toBeGreaterThan(0);
    expect([...fastSession.subs.values()].some((ch) => ch.lagging.has(fastSession))).toBe(false);
    one.destroy();
    five.destroy();
  });

  test("a reader on five topics is found when each sent less than its step since the last look (issue 17)", async () => {
    await using server = await startServer({
      defaultPolicy: { maxPayload: 64 * 1024, limitBytes: LIMIT },
      policies: [{ match: "sweep.>", action: "drop" }],
    });
    server.guard.stop();
    const topics = Array.from({ length: 5 }, () => uniqueTopic("sweep"));
    const raw = await stuckReader(server, topics);
    const s = sessionsOf(server, topics)[0]!;
    // Fill the kernel's buffers through topic 0, a frame at a time, until the server still queues a few turns later.
    const fill = "x".repeat(17 * 1024);
    for (let n = 0; n < 2000 && s.socket!.bufferedAmount() === 0; n++) {
      server.publish(topics[0]!, { n, pad: fill });
      for (let i = 0; i < 4; i++) await turn();
    }
    expect(s.socket!.bufferedAmount()).toBeGreaterThan(0);
    expect(s.socket!.bufferedAmount()).toBeLessThan(LIMIT / 2);
    server.guard.sweep();
    expect([...s.subs.values()].some((ch) => ch.lagging.has(s))).toBe(false);
    // Under a walk step on every topic, yet together past the limit.
    const pad = "x".repeat(15_000);
    for (const t of topics) server.publish(t, { pad });
    // The runtime hands published frames to its sockets at the end of the turn.
    await turn();
    expect(s.socket!.bufferedAmount()).toBeGreaterThan(LIMIT);
    server.guard.sweep();
    expect([...s.subs.values()].every((ch) => ch.lagging.has(s))).toBe(true);
    raw.destroy();
  });

  test("a reader whose own backlog puts it past its limit is found with nothing published (issue 17)", async () => {
    await using server = await startServer({
      defaultPolicy: { maxPayload: 64 * 1024, limitBytes: LIMIT, historySize: 200 },
      policies: [{ match: "sweep.>", action: "disconnect" }],
    });
    server.guard.stop();
    const topic = uniqueTopic("sweep");
    const pad = "x".repeat(60_000);
    // 12 MB of history: more than the kernel's buffers take, so most of it queues in the server.
    for (let n = 0; n < 200; n++) server.publish(topic, { n, pad });
    const raw = await rawConnect(server.port, "/ws");
    const epoch = server.broker.topics.get(topic)!.epoch;
    raw.pause();
    raw.sendFrame({ t: "sub", topic, id: 1, recover: { epoch, seq: 0 } });
    let s: Session | undefined;
    while (!(s = sessionsOf(server, [topic])[0])) await turn();
    // The backlog went out in the subscribing turn; no publication since, so only the session's own sends can bring it to a look.
    expect(s.socket!.bufferedAmount()).toBeGreaterThan(LIMIT);
    server.guard.sweep();
    expect(server.stats().slowConsumers.disconnects).toBe(1);
    raw.destroy();
  });
});
