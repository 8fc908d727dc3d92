/**
 * Subscription filters through the SDK, against a real server:
 * `subscribe(topic, fn, { filter })` and `publish(topic, data, { tags })`.
 * A subscription's identity is its topic and its canonical filter, as on
 * the server; the filter goes out in `sub`, in `unsub` and in every
 * resubscribe (with recovery). Over SSE, which has no filters, the client
 * applies them itself.
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode, TickgateClientError } from "../../src/client/index.ts";
import { canonicalFilter as serverCanonical } from "../../src/protocol/filter.ts";
import { subscriptionKey } from "../../src/client/subscription.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";
import { collector, eventually, silentServer, startClient, startProxy } from "./support.ts";

const fastReconnect = { reconnect: { minDelayMs: 20, maxDelayMs: 100 } };

/** The server's channels for exactly this topic (not patterns over it), by key (the topic, or topic#filter), with their member counts. */
function held(server: TestServer, topic: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const ch of server.broker.index.match(topic)) if (ch.base === topic && ch.members.size > 0) out[ch.key] = ch.members.size;
  return out;
}

const NEWS: [string, string[]][] = [
  ["btc up", ["bitcoin", "price"]],
  ["eth rules", ["ethereum", "regulation"]],
  ["eth upgrade", ["ethereum", "upgrade"]],
  ["untagged", []],
  ["btc and eth", ["bitcoin", "ethereum"]],
];

for (const encoding of ["msgpack", "json"] as const) {
  describe(`subscription filters over ${encoding}`, () => {
    test("two clients with different filters on the same topic each get only their matches, with meta.tags", async () => {
      await using server = await startServer({ policies: [{ match: "news.>", publish: "server" }] });
      const topic = uniqueTopic("news");
      await using a = startClient(server.wsUrl, { encoding });
      await using b = startClient(server.wsUrl, { encoding });
      await using all = startClient(server.wsUrl, { encoding });
      const btc = collector<string>();
      const ethNoRules = collector<string>();
      const everything = collector<string>();
      const subA = a.client.subscribe<string>(topic, btc.handler, { filter: { any: ["bitcoin"] } });
      const subB = b.client.subscribe<string>(topic, ethNoRules.handler, { filter: { any: ["ethereum"], none: ["regulation"] } });
      await Promise.all([subA.ready(), subB.ready(), all.client.subscribe<string>(topic, everything.handler).ready()]);
      expect(subA.filter).toEqual({ any: ["bitcoin"] });
      expect(Object.isFrozen(subA.filter)).toBe(true);

      for (const [title, tags] of NEWS) server.publish(topic, title, { tags });
      await everything.count(NEWS.length);
      await btc.count(2);
      await ethNoRules.count(2);
      // What got through is exactly what passes; ping both so anything late would have arrived.
      await Promise.all([a.client.serverStats(), b.client.serverStats()]);
      expect(btc.got.map((m) => m.data)).toEqual(["btc up", "btc and eth"]);
      expect(ethNoRules.got.map((m) => m.data)).toEqual(["eth upgrade", "btc and eth"]);
      expect(everything.got.map((m) => m.data)).toEqual(NEWS.map(([t]) => t));
      expect(btc.got[0]!.meta.tags).toEqual(["bitcoin", "price"]);
      // An untagged publication has no tags in meta.
      expect(everything.got[3]!.meta.tags).toBeUndefined();
      // The filtered subscriptions' seqs jump: they skip what did not pass.
      expect(btc.got.map((m) => m.meta.seq)).toEqual([1, 5]);
      expect(held(server, topic)).toEqual({
        [topic]: 1,
        [`${topic}#${serverCanonical({ any: ["bitcoin"] })}`]: 1,
        [`${topic}#${serverCanonical({ any: ["ethereum"], none: ["regulation"] })}`]: 1,
      });
    });

    test("overlapping filtered and unfiltered subscriptions on one connection each get theirs once", async () => {
      await using server = await startServer();
      const root = uniqueTopic("ov");
      const topic = `${root}.eu`;
      await using w = startClient(server.wsUrl, { encoding });
      const plain = collector<string>();
      const sport = collector<string>();
      const sportAgain = collector<string>();
      const patternSport = collector<string>();
      const notOpinion = collector<string>();
      await w.client.subscribe<string>(topic, plain.handler).ready();
      const sportSub = w.client.subscribe<string>(topic, sport.handler, { filter: { any: ["sport", "weather"] } });
      await sportSub.ready();
      // The same filter spelt differently is the same subscription: no second server subscription.
      const again = w.client.subscribe<string>(topic, sportAgain.handler, { filter: { any: ["weather", "sport", "sport"] } });
      await again.ready();
      await w.client.subscribe<string>(`${root}.*`, patternSport.handler, { filter: { any: ["sport"] } }).ready();
      await w.client.subscribe<string>(topic, notOpinion.handler, { filter: { none: ["opinion"] } }).ready();
      expect(Object.keys(held(server, topic))).toHaveLength(3);

      const pubs: [string, string[]][] = [
        ["match report", ["sport", "uk"]],
        ["rain", ["weather"]],
        ["a column", ["sport", "opinion"]],
        ["budget", ["politics"]],
      ];
      for (const [title, tags] of pubs) await w.client.publish(topic, title, { tags });
      await plain.count(4);
      await w.client.serverStats(); // every copy of every publication is in by now
      expect(plain.got.map((m) => m.data)).toEqual(["match report", "rain", "a column", "budget"]);
      expect(sport.got.map((m) => m.data)).toEqual(["match report", "rain", "a column"]);
      expect(sportAgain.got.map((m) => m.data)).toEqual(["match report", "rain", "a column"]);
      expect(patternSport.got.map((m) => m.data)).toEqual(["match report", "a column"]);
      expect(notOpinion.got.map((m) => m.data)).toEqual(["match report", "rain", "budget"]);
      // Each publication counted once, however many subscriptions had it.
      expect(w.client.stats().messages).toBe(4);

      // Unsubscribing names the filter: the server ends that subscription and no other.
      again();
      await w.client.serverStats();
      expect(Object.keys(held(server, topic))).toHaveLength(3); // `sport` still holds it
      sportSub();
      await eventually(() => Object.keys(held(server, topic)).length === 2, "the filtered subscription to end");
      expect(held(server, topic)).toEqual({ [topic]: 1, [`${topic}#${serverCanonical({ none: ["opinion"] })}`]: 1 });
      await w.client.publish(topic, "derby", { tags: ["sport"] });
      await plain.count(5);
      expect(sport.got).toHaveLength(3);
      expect(w.errors).toEqual([]);
    });

    test("recovery after a drop replays only the publications that pass the filter", async () => {
      await using server = await startServer({ policies: [{ match: "frec.>", historySize: 1000 }] });
      await using proxy = await startProxy(server.port);
      const topic = uniqueTopic("frec");
      await using w = startClient(proxy.url, { encoding, ...fastReconnect });
      const btc = collector<number>();
      const gaps: string[] = [];
      await w.client.subscribe<number>(topic, btc.handler, { filter: { any: ["bitcoin"] }, onGap: (g) => gaps.push(g.reason) }).ready();
      const tagsOf = (i: number) => (i % 3 === 0 ? ["bitcoin"] : ["ethereum"]);
      for (let i = 1; i <= 9; i++) server.publish(topic, i, { tags: tagsOf(i) });
      await btc.count(3);
      proxy.drop();
      // Published while the client cannot be connected.
      for (let i = 10; i <= 30; i++) server.publish(topic, i, { tags: tagsOf(i) });
      await btc.count(10); // the replay: the three before, seven more
      for (let i = 31; i <= 33; i++) server.publish(topic, i, { tags: tagsOf(i) });
      await btc.count(11);
      const want = Array.from({ length: 33 }, (_, i) => i + 1).filter((i) => i % 3 === 0);
      expect(btc.got.map((m) => m.data)).toEqual(want);
      expect(btc.got.map((m) => m.meta.seq)).toEqual(want);
      // Replayed: 12, 15, ..., 30 (seven), and nothing that did not pass.
      expect(w.client.stats().recovered).toBe(7);
      expect(w.client.stats().reconnects).toBe(1);
      expect(gaps).toEqual([]);
      expect(w.gaps).toEqual([]);
    });
  });
}

describe("subscription filters: the rest", () => {
  test("the client's subscription key is the server's channel key", () => {
    for (const f of [{ any: ["b", "a", "a"] }, { none: ["x"], all: ["z", "y"] }, { any: ["é", "A"], all: ["a"], none: ["b"] }]) {
      expect(subscriptionKey("news.>", f)).toBe(`news.>#${serverCanonical(f)}`);
    }
    expect(subscriptionKey("news.>", undefined)).toBe("news.>");
  });

  test("a malformed filter throws INVALID_FRAME at once; malformed tags reject without sending", async () => {
    await using server = await startServer();
    await using w = startClient(server.wsUrl);
    await w.until("connected");
    const topic = uniqueTopic("bad");
    const bad: unknown[] = [{}, { any: [] }, { any: [""] }, { any: ["x".repeat(65)] }, { some: ["x"] }, { any: Array.from({ length: 33 }, (_, i) => `t${i}`) }, { any: "x" }, null];
    for (const filter of bad) {
      let err: unknown;
      try {
        w.client.subscribe(topic, () => {}, { filter: filter as never });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(filter)).toBeInstanceOf(TickgateClientError);
      expect((err as TickgateClientError).code).toBe(ErrorCode.INVALID_FRAME);
    }
    await expect(w.client.publish(topic, 1, { tags: [""] })).rejects.toMatchObject({ code: ErrorCode.INVALID_FRAME });
    await expect(w.client.publish(topic, 1, { tags: Array.from({ length: 33 }, (_, i) => `t${i}`) })).rejects.toMatchObject({ code: ErrorCode.INVALID_FRAME });
    expect(server.broker.topics.get(topic)).toBeUndefined();
    // The caller's arrays are copied: changing them later changes nothing.
    const any = ["a"];
    const got = collector<number>();
    await w.client.subscribe<number>(topic, got.handler, { filter: { any } }).ready();
    any.push("b");
    await w.client.publish(topic, 1, { tags: ["b"] });
    await w.client.publish(topic, 2, { tags: ["a"] });
    expect((await got.count(1)).map((m) => m.data)).toEqual([2]);
  });

  test("over SSE (no server-side filters) the client filters, and publishes carry their tags over HTTP", async () => {
    await using server = await startServer({ policies: [{ match: "fsse.>", historySize: 100 }] });
    await using blackhole = await silentServer();
    await using w = startClient(blackhole.url, { connectTimeoutMs: 100, httpUrl: `http://127.0.0.1:${server.port}`, ...fastReconnect });
    await w.until("connected");
    expect(w.client.mode).toBe("sse");
    const topic = uniqueTopic("fsse");
    const plain = collector<string>();
    const sport = collector<string>();
    const s1 = w.client.subscribe<string>(topic, plain.handler);
    const s2 = w.client.subscribe<string>(topic, sport.handler, { filter: { any: ["sport"] } });
    await Promise.all([s1.ready(), s2.ready()]);
    expect(await w.client.publish(topic, "goal", { tags: ["sport"] })).toBe(1);
    expect(await w.client.publish(topic, "rain", { tags: ["weather"] })).toBe(2);
    server.publish(topic, "final", { tags: ["sport", "uk"] });
    await plain.count(3);
    await sport.count(2);
    expect(plain.got.map((m) => m.data)).toEqual(["goal", "rain", "final"]);
    expect(sport.got.map((m) => m.data)).toEqual(["goal", "final"]);
    expect(sport.got.map((m) => m.meta.tags)).toEqual([["sport"], ["sport", "uk"]]);
    expect(server.broker.topics.get(topic)?.seq).toBe(3);
    // One stream topic for both subscriptions; dropping the filtered one keeps the other.
    s2();
    await w.client.publish(topic, "match", { tags: ["sport"] });
    await plain.count(4);
    expect(sport.got).toHaveLength(2);
    expect(w.errors).toEqual([]);
  });

  test("over SSE, a dropped stream resumes from the positions and the filtered subscription still gets only its matches, once", async () => {
    await using server = await startServer({ policies: [{ match: "fssr.>", historySize: 1000 }] });
    await using proxy = await startProxy(server.port);
    await using blackhole = await silentServer();
    await using w = startClient(blackhole.url, { connectTimeoutMs: 100, httpUrl: `http://127.0.0.1:${proxy.port}`, ...fastReconnect });
    await w.until("connected");
    const topic = uniqueTopic("fssr");
    const all = collector<number>();
    const odd = collector<number>();
    await Promise.all([w.client.subscribe<number>(topic, all.handler).ready(), w.client.subscribe<number>(topic, odd.handler, { filter: { any: ["odd"] } }).ready()]);
    const tagsOf = (i: number) => [i % 2 === 1 ? "odd" : "even"];
    for (let i = 1; i <= 10; i++) server.publish(topic, i, { tags: tagsOf(i) });
    await all.count(10);
    proxy.drop();
    for (let i = 11; i <= 40; i++) server.publish(topic, i, { tags: tagsOf(i) });
    await all.count(40);
    await odd.count(20);
    expect(all.got.map((m) => m.data)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(odd.got.map((m) => m.data)).toEqual(Array.from({ length: 20 }, (_, i) => 2 * i + 1));
    expect(w.client.stats()).toMatchObject({ reconnects: 1, gaps: 0, messages: 40, mode: "sse", recovered: 30 });
  });
});
