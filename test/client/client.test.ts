/**
 * The client SDK end to end against a real server, in both encodings:
 * subscribe (exact, wildcard, overlapping), publish with ack, request,
 * errors with codes, state events, handler exceptions, independence.
 */
import { describe, expect, test } from "bun:test";
import { ClientErrorCode, ErrorCode, TickgateClient, TickgateClientError } from "../../src/client/index.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { collector, startClient, watch } from "./support.ts";

for (const encoding of ["msgpack", "json"] as const) {
  describe(`TickgateClient over ${encoding}`, () => {
    test("connects: state goes connecting → connected, welcome names the encoding", async () => {
      await using server = await startServer();
      await using w = startClient(server.wsUrl, { encoding, clientType: "device" });
      expect(w.client.state).toBe("connecting");
      await w.client.ready(5000);
      expect(w.states).toEqual(["connecting", "connected"]);
      expect(w.client.mode).toBe("websocket");
      expect(w.client.welcome?.encoding).toBe(encoding);
      expect(w.client.welcome?.client).toBe("device");
      expect(server.stats().sessions.device).toBe(1);
    });

    test("subscribe to an exact topic; publish with ack resolves to the seq the subscriber sees", async () => {
      await using server = await startServer();
      const topic = uniqueTopic();
      await using sub = startClient(server.wsUrl, { encoding });
      await using pub = startClient(server.wsUrl, { encoding });
      const c = collector<{ i: number; s: string }>();
      const unsubscribe = sub.client.subscribe(topic, c.handler);
      expect(unsubscribe.topic).toBe(topic);
      await unsubscribe.ready();
      await pub.client.ready();
      const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => pub.client.publish(topic, { i, s: "é€😀" })));
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const got = await c.count(20);
      expect(got.map((m) => m.data.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(got.map((m) => m.meta.seq)).toEqual(seqs);
      expect(got[0]!.data.s).toBe("é€😀");
      expect(got[0]!.meta).toMatchObject({ topic, epoch: expect.any(String), ts: expect.any(Number) });
      expect(sub.client.stats()).toMatchObject({ messages: 20, reconnects: 0, gaps: 0, mode: "websocket", state: "connected" });
      expect(sub.client.stats().messagesPerSec).toBeGreaterThan(0);
    });

    test("wildcards: * and > receive the topics they cover, with key and topic in meta", async () => {
      await using server = await startServer();
      const root = uniqueTopic("w");
      await using w = startClient(server.wsUrl, { encoding });
      const star = collector();
      const deep = collector();
      await w.client.subscribe(`${root}.*`, star.handler).ready();
      await w.client.subscribe(`${root}.>`, deep.handler).ready();
      server.publish(`${root}.a`, 1, { key: "K" });
      server.publish(`${root}.a.b`, 2);
      server.publish(root, 3);
      server.publish(`${root}.c`, 4);
      // Order holds per topic, not across topics: with batch frames the `*` subscription's
      // batch (1, 4) can hand 4 to this handler before the `>` batch brings 2.
      const byData = (x: [unknown, unknown], y: [unknown, unknown]) => Number(x[1]) - Number(y[1]);
      expect((await deep.count(3)).map((m) => [m.meta.topic, m.data] as [unknown, unknown]).sort(byData)).toEqual([[`${root}.a`, 1], [`${root}.a.b`, 2], [`${root}.c`, 4]]);
      expect((await star.count(2)).map((m) => m.data)).toEqual([1, 4]);
      expect(star.got[0]!.meta.key).toBe("K");
      expect(star.got[1]!.meta.key).toBeUndefined();
      // Both subscriptions got their copies, but the client counts each publication once.
      expect(w.client.stats().messages).toBe(3);
    });

    test("overlapping subscriptions: each handler gets each publication once", async () => {
      await using server = await startServer();
      const root = uniqueTopic("o");
      await using w = startClient(server.wsUrl, { encoding });
      const exact = collector();
      const pattern = collector();
      const second = collector();
      await w.client.subscribe(`${root}.x`, exact.handler).ready();
      await w.client.subscribe(`${root}.>`, pattern.handler).ready();
      await w.client.subscribe(`${root}.x`, second.handler).ready(); // same string: one server subscription
      for (let i = 1; i <= 10; i++) server.publish(`${root}.x`, i);
      server.publish(`${root}.end`, "end");
      await pattern.count(11);
      // The sentinel on another topic arrived after every copy of the first ten.
      expect(exact.got.map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(second.got.map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(pattern.got.map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "end"]);
    });

    test("unsubscribe stops delivery to that handler only", async () => {
      await using server = await startServer();
      const topic = uniqueTopic();
      await using w = startClient(server.wsUrl, { encoding });
      const a = collector();
      const b = collector();
      const offA = w.client.subscribe(topic, a.handler);
      await offA.ready();
      const offB = w.client.subscribe(topic, b.handler);
      server.publish(topic, 1);
      await b.count(1);
      offA();
      offA(); // idempotent
      server.publish(topic, 2);
      await b.count(2);
      expect(a.got.map((m) => m.data)).toEqual([1]);
      offB();
      await expect(offB.ready()).rejects.toMatchObject({ code: ClientErrorCode.CLOSED });
      // The last handler gone: the server subscription is gone too.
      const sentinel = collector();
      await w.client.subscribe(uniqueTopic(), sentinel.handler).ready();
      expect(server.stats().subscriptions).toBe(1);
    });

    test("request/response, and server errors reject with their wire code", async () => {
      await using server = await startServer({ requestTimeoutMs: 200, policies: [{ match: "srv.>", publish: "server" }] });
      server.handle("quote", (d) => ({ symbol: (d as { symbol: string }).symbol, bid: 64000.5 }));
      server.handle("boom", () => {
        throw new Error("kaput");
      });
      await using w = startClient(server.wsUrl, { encoding });
      await w.client.ready();
      expect(await w.client.request("quote", { symbol: "BTC" })).toEqual({ symbol: "BTC", bid: 64000.5 });
      const noHandler = (await w.client.request("nope").catch((e) => e)) as TickgateClientError;
      expect(noHandler).toBeInstanceOf(TickgateClientError);
      expect(noHandler).toBeInstanceOf(Error);
      expect(noHandler.code).toBe(ErrorCode.NO_HANDLER);
      await expect(w.client.request("boom")).rejects.toMatchObject({ code: ErrorCode.HANDLER_ERROR });
      await expect(w.client.publish("srv.x", 1)).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
      const big = await w.client.publish(uniqueTopic(), "x".repeat(70_000)).catch((e) => e);
      expect(big).toMatchObject({ code: ErrorCode.PAYLOAD_TOO_LARGE, details: { limit: 65536 } });
      expect(() => w.client.subscribe("a..b", () => {})).toThrow(expect.objectContaining({ code: ErrorCode.BAD_TOPIC }));
    });

    test("a request the server never answers rejects with TIMEOUT", async () => {
      await using server = await startServer({ requestTimeoutMs: 60_000 });
      server.handle("never", () => new Promise(() => {}));
      await using w = startClient(server.wsUrl, { encoding });
      await w.client.ready();
      const t0 = performance.now();
      await expect(w.client.request("never", null, { timeoutMs: 100 })).rejects.toMatchObject({ code: ClientErrorCode.TIMEOUT });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    });

    test("a throwing handler is reported on 'error'; other handlers and later publications are unaffected", async () => {
      await using server = await startServer();
      const topic = uniqueTopic();
      await using w = startClient(server.wsUrl, { encoding });
      const c = collector<number>();
      await w.client.subscribe<number>(topic, (n) => {
        if (n === 2) throw new Error("bad tick");
      }).ready();
      await w.client.subscribe(topic, c.handler).ready();
      w.client.on("state", () => {
        throw new Error("listener bug");
      });
      for (let i = 1; i <= 3; i++) server.publish(topic, i);
      await c.count(3);
      const [err] = await w.errorCount(1);
      expect(err!.code).toBe(ClientErrorCode.LISTENER_ERROR);
      expect(err!.message).toContain("bad tick");
      expect((err!.cause as Error).message).toBe("bad tick");
      expect(c.got.map((m) => m.data)).toEqual([1, 2, 3]);
      w.client.close(); // the throwing state listener runs; close still completes
      expect(w.client.state).toBe("disconnected");
      expect(w.errors.map((e) => e.message).join()).toContain("listener bug");
    });

    test("publishing before connect is queued; fire-and-forget refusals go to 'error'", async () => {
      await using server = await startServer({ policies: [{ match: "srv.>", publish: "server" }] });
      const topic = uniqueTopic();
      await using sub = startClient(server.wsUrl, { encoding });
      const c = collector();
      await sub.client.subscribe(topic, c.handler).ready();
      const w = watch(new TickgateClient(server.wsUrl, { encoding }));
      await using _ = w;
      const first = w.client.connect().publish(topic, "queued");
      w.client.publish(topic, "no ack", { ack: false });
      w.client.publish("srv.x", "refused", { ack: false });
      expect(await first).toBe(1);
      expect((await c.count(2)).map((m) => m.data)).toEqual(["queued", "no ack"]);
      const [err] = await w.errorCount(1);
      expect(err!.code).toBe(ErrorCode.FORBIDDEN);
    });

    test("retained values arrive as a snapshot, also for a subscription overlapping one already held", async () => {
      await using server = await startServer({ policies: [{ match: "ret.>", retain: true }] });
      const root = uniqueTopic("ret");
      const topic = `${root}.px`;
      server.publish(topic, 1, { key: "A" });
      server.publish(topic, 2, { key: "B" });
      server.publish(topic, 3, { key: "A" });
      await using w = startClient(server.wsUrl, { encoding });
      const pattern = collector<number>();
      await w.client.subscribe<number>(`${root}.*`, pattern.handler).ready();
      expect((await pattern.count(2)).map((m) => [m.meta.key, m.data, m.meta.seq])).toEqual([["B", 2, 2], ["A", 3, 3]]);
      // The pattern has seen seq 3 already; the new exact subscription still gets its own snapshot.
      const exact = collector<number>();
      await w.client.subscribe<number>(topic, exact.handler).ready();
      server.publish(topic, 4, { key: "B" });
      expect((await exact.count(3)).map((m) => m.data)).toEqual([2, 3, 4]);
      expect((await pattern.count(3)).map((m) => m.data)).toEqual([2, 3, 4]);
    });

    test("close() then connect() resumes the subscriptions where they left off", async () => {
      await using server = await startServer({ policies: [{ match: "cc.>", historySize: 100 }] });
      const topic = uniqueTopic("cc");
      await using w = startClient(server.wsUrl, { encoding });
      const c = collector<number>();
      await w.client.subscribe<number>(topic, c.handler).ready();
      server.publish(topic, 1);
      server.publish(topic, 2);
      await c.count(2);
      w.client.close();
      for (let i = 3; i <= 5; i++) server.publish(topic, i);
      w.client.connect();
      await w.until("connected");
      server.publish(topic, 6);
      expect((await c.count(6)).map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6]);
      // 3..5 were replayed; 6 too if it beat the resubscribe to the server (connected ≠ resubscribed).
      expect(w.client.stats().recovered).toBeGreaterThanOrEqual(3);
      expect(w.client.stats()).toMatchObject({ gaps: 0, reconnects: 0 });
      expect(w.states).toEqual(["connecting", "connected", "disconnected", "connecting", "connected"]);
    });

    test("close rejects what is pending and stops everything", async () => {
      await using server = await startServer();
      server.handle("never", () => new Promise(() => {}));
      const w = startClient(server.wsUrl, { encoding });
      await w.client.ready();
      const pending = w.client.request("never", null, { timeoutMs: 60_000 });
      w.client.close();
      await expect(pending).rejects.toMatchObject({ code: ClientErrorCode.CLOSED });
      await expect(w.client.publish(uniqueTopic(), 1)).rejects.toMatchObject({ code: ClientErrorCode.CLOSED });
      await expect(w.client.ready()).rejects.toMatchObject({ code: ClientErrorCode.CLOSED });
      expect(w.states).toEqual(["connecting", "connected", "disconnected"]);
      expect(w.client.stats().reconnects).toBe(0);
    });
  });
}

describe("TickgateClient: several in one process", () => {
  test("clients are independent: different encodings, topics, and one closing leaves the others alone", async () => {
    await using server = await startServer({ policies: [{ match: "ind.>", historySize: 100 }] });
    const topics: string[] = [uniqueTopic("ind"), uniqueTopic("ind"), uniqueTopic("ind")];
    const clients = [
      startClient(server.wsUrl, { encoding: "msgpack" }),
      startClient(server.wsUrl, { encoding: "json" }),
      startClient(server.wsUrl, { encoding: "msgpack", clientType: "mobile" }),
    ];
    const cols = topics.map(() => collector<number>());
    await Promise.all(clients.map((w, i) => w.client.subscribe<number>(topics[i]!, cols[i]!.handler).ready()));
    // Every client publishes to every topic; each subscriber sees only its topic.
    for (let k = 0; k < 3; k++) await Promise.all(clients.map((w, i) => w.client.publish(topics[k]!, i * 10 + k)));
    for (let i = 0; i < 3; i++) {
      const got = await cols[i]!.count(3);
      expect(got.map((m) => m.meta.topic)).toEqual([topics[i]!, topics[i]!, topics[i]!]);
      expect(got.map((m) => m.data).sort((a, b) => a - b)).toEqual([0 + i, 10 + i, 20 + i]);
    }
    clients[1]!.client.close();
    await clients[0]!.client.publish(topics[2]!, 99);
    await cols[2]!.count(4);
    expect(clients[0]!.client.state).toBe("connected");
    expect(clients[2]!.client.state).toBe("connected");
    expect(clients.map((w) => w.client.stats().messages)).toEqual([3, 3, 4]);
    expect(clients[0]!.states).toEqual(["connecting", "connected"]);
    for (const w of clients) w.client.close();
  });

  test("bad options fail at construction with one message naming the field", () => {
    expect(() => new TickgateClient("nope")).toThrow("url: 'nope' is not an absolute URL");
    expect(() => new TickgateClient("ws://x/ws", { reconnect: { factor: 0.5 } })).toThrow("reconnect.factor: must be a finite number ≥ 1");
    expect(() => new TickgateClient("ws://x/ws", { heartbeatMs: -1 })).toThrow("heartbeatMs: must be a number ≥ 0");
    expect(() => new TickgateClient("ftp://x/ws")).toThrow(expect.objectContaining({ code: ClientErrorCode.INVALID_OPTION }));
  });

  test("the HTTP base is derived from the WebSocket URL", () => {
    expect(new TickgateClient("ws://h:1/ws").httpUrl).toBe("http://h:1");
    expect(new TickgateClient("wss://h/app/ws?x=1").httpUrl).toBe("https://h/app");
    expect(new TickgateClient("ws://h/ws", { httpUrl: "http://other:2/base/" }).httpUrl).toBe("http://other:2/base");
    expect(new TickgateClient("ws://h/ws", { clientType: "mobile" }).url).toBe("ws://h/ws?client=mobile");
  });
});

describe("client: server stats", () => {
  test("serverStats() answers with the server's counts and this session's", async () => {
    await using server = await startServer();
    await using w = startClient(server.wsUrl, { clientType: "mobile" });
    await w.until("connected");
    const s = await w.client.serverStats<{ connections: number; sessions: Record<string, number>; session: { client: string } }>();
    expect(s.connections).toBe(1);
    expect(s.sessions.mobile).toBe(1);
    expect(s.session.client).toBe("mobile");
  });
});
