import { describe, expect, test } from "bun:test";
import { packr } from "../../src/protocol/codec.ts";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { connect, subscribe } from "../helpers/client.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";

for (const encoding of ["msgpack", "json"] as const) {
  describe(`pub/sub over ${encoding}`, () => {
    test("welcome names session, encoding, limits and commands", async () => {
      await using server = await startServer();
      await using c = await connect(server.wsUrl, { encoding });
      expect(c.welcome.encoding).toBe(encoding);
      expect(c.welcome.session).toMatch(/^[0-9a-f-]{36}$/);
      expect(Math.abs(c.welcome.ts - Date.now())).toBeLessThan(5000);
      expect(c.welcome.limits.maxSubscriptions).toBe(1000);
      expect(c.welcome.commands).toEqual(expect.arrayContaining(["sub", "unsub", "pub", "ping", "stats", "req", "hello"]));
    });

    test("publish reaches subscribers in order with per-topic seq, ack carries seq", async () => {
      await using server = await startServer();
      const topic = uniqueTopic();
      await using sub = await connect(server.wsUrl, { encoding });
      await using pub = await connect(server.wsUrl, { encoding });
      await subscribe(sub, topic);
      for (let i = 0; i < 50; i++) pub.send({ t: "pub", id: i, topic, data: { i, s: "x" } });
      const acks = await pub.collect(50, (f) => f.t === "ack");
      expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const msgs = await sub.collect(50, (f) => f.t === "msg");
      expect(msgs.map((m) => m.data.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(msgs.map((m) => m.seq)).toEqual(acks.map((a) => a.seq));
      expect(new Set(msgs.map((m) => m.epoch)).size).toBe(1);
      expect(msgs[0]!.topic).toBe(topic);
    });

    test("unsubscribe stops delivery; unknown unsubscribe is NOT_SUBSCRIBED", async () => {
      await using server = await startServer();
      const topic = uniqueTopic();
      await using c = await connect(server.wsUrl, { encoding });
      await subscribe(c, topic);
      c.send({ t: "unsub", id: "u1", topic });
      expect((await c.next((f) => f.id === "u1")).t).toBe("ack");
      server.publish(topic, 1);
      c.send({ t: "unsub", id: "u2", topic });
      const err = await c.next((f) => f.id === "u2");
      expect(err).toMatchObject({ t: "error", code: ErrorCode.NOT_SUBSCRIBED });
      // The publish above happened before u2 was answered; nothing arrived.
      expect(c.frames.filter((f) => f.t === "msg")).toHaveLength(0);
    });

    test("wildcards: * matches one token, > one or more", async () => {
      await using server = await startServer();
      const root = uniqueTopic("w");
      await using c = await connect(server.wsUrl, { encoding });
      await subscribe(c, `${root}.*`);
      await using deep = await connect(server.wsUrl, { encoding });
      await subscribe(deep, `${root}.>`);
      server.publish(`${root}.a`, 1);
      server.publish(`${root}.a.b`, 2);
      server.publish(root, 3);
      server.publish(`${root}.c`, 4);
      expect((await c.collect(2, (f) => f.t === "msg")).map((m) => m.data)).toEqual([1, 4]);
      expect((await deep.collect(3, (f) => f.t === "msg")).map((m) => m.data)).toEqual([1, 2, 4]);
    });

    test("ping, stats and hello", async () => {
      await using server = await startServer();
      await using c = await connect(server.wsUrl, { encoding });
      c.send({ t: "ping", id: 7 });
      const pong = await c.next((f) => f.id === 7);
      expect(pong.t).toBe("pong");
      c.send({ t: "hello", id: "h", client: "device", meta: { fw: "1.2" } });
      expect((await c.next((f) => f.id === "h")).t).toBe("ack");
      c.send({ t: "stats", id: "s" });
      const st = await c.next((f) => f.id === "s");
      expect(st.t).toBe("stats");
      expect(st.data.connections).toBe(1);
      expect(st.data.sessions.device).toBe(1);
      expect(st.data.session.client).toBe("device");
      expect(server.stats().sessions.device).toBe(1);
    });

    test("request/response: handler answers, missing handler, timeout, throw", async () => {
      await using server = await startServer({ requestTimeoutMs: 200 });
      server.handle("echo", (d, ctx) => ({ d, client: ctx.client }));
      server.handle("slow", () => new Promise(() => {}));
      server.handle("boom", () => {
        throw new Error("kaput");
      });
      await using c = await connect(server.wsUrl, { encoding });
      c.send({ t: "req", id: 1, method: "echo", data: { a: [1, 2] } });
      expect(await c.next((f) => f.id === 1)).toMatchObject({ t: "res", data: { d: { a: [1, 2] }, client: "api" } });
      c.send({ t: "req", id: 2, method: "nope" });
      expect(await c.next((f) => f.id === 2)).toMatchObject({ t: "error", code: ErrorCode.NO_HANDLER });
      c.send({ t: "req", id: 3, method: "slow" });
      expect(await c.next((f) => f.id === 3)).toMatchObject({ t: "error", code: ErrorCode.REQUEST_TIMEOUT });
      c.send({ t: "req", id: 4, method: "boom" });
      expect(await c.next((f) => f.id === 4)).toMatchObject({ t: "error", code: ErrorCode.HANDLER_ERROR });
    });

    test("policy refusals keep the connection up", async () => {
      await using server = await startServer({
        maxSubscriptions: 2,
        maxTopics: 3,
        policies: [
          { match: "srv.>", publish: "server" },
          { match: "small.>", maxPayload: 16 },
        ],
      });
      await using c = await connect(server.wsUrl, { encoding });
      c.send({ t: "pub", id: 1, topic: "srv.x", data: 1 });
      expect(await c.next((f) => f.id === 1)).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
      c.send({ t: "pub", id: 2, topic: "small.x", data: "x".repeat(100) });
      expect(await c.next((f) => f.id === 2)).toMatchObject({ t: "error", code: ErrorCode.PAYLOAD_TOO_LARGE, details: { limit: 16 } });
      c.send({ t: "pub", id: 3, topic: "a.*", data: 1 });
      expect(await c.next((f) => f.id === 3)).toMatchObject({ t: "error", code: ErrorCode.BAD_TOPIC });
      c.send({ t: "sub", id: 4, topic: "a..b" });
      expect(await c.next((f) => f.id === 4)).toMatchObject({ t: "error", code: ErrorCode.BAD_TOPIC });
      c.send({ t: "sub", id: 5, topic: "a" });
      c.send({ t: "sub", id: 6, topic: "b" });
      c.send({ t: "sub", id: 7, topic: "c" });
      expect(await c.next((f) => f.id === 7)).toMatchObject({ t: "error", code: ErrorCode.TOO_MANY_SUBSCRIPTIONS });
      for (const [i, t] of ["t1", "t2", "t3", "t4"].entries()) c.send({ t: "pub", id: 10 + i, topic: t, data: i });
      expect(await c.next((f) => f.id === 13)).toMatchObject({ t: "error", code: ErrorCode.TOO_MANY_TOPICS });
      c.send({ t: "ping", id: "alive" });
      expect((await c.next((f) => f.id === "alive")).t).toBe("pong");
    });

    test("retained value is sent on subscribe, per key, before live ones", async () => {
      await using server = await startServer({ policies: [{ match: "ret.>", retain: true }] });
      const topic = `ret.${uniqueTopic()}`;
      server.publish(topic, { p: 1 }, { key: "A" });
      server.publish(topic, { p: 2 }, { key: "B" });
      server.publish(topic, { p: 3 }, { key: "A" });
      await using c = await connect(server.wsUrl, { encoding });
      await subscribe(c, topic);
      server.publish(topic, { p: 4 }, { key: "B" });
      const got = await c.collect(3, (f) => f.t === "msg");
      expect(got.map((m) => [m.key, m.data.p, m.seq])).toEqual([
        ["B", 2, 2],
        ["A", 3, 3],
        ["B", 4, 4],
      ]);
      await using w = await connect(server.wsUrl, { encoding });
      await subscribe(w, "ret.>");
      expect((await w.collect(2, (f) => f.t === "msg")).map((m) => m.data.p).sort()).toEqual([3, 4]);
    });
  });
}

describe("encodings", () => {
  test("msgpack publisher, JSON and msgpack subscribers see the same publication", async () => {
    await using server = await startServer();
    const topic = uniqueTopic();
    await using j = await connect(server.wsUrl, { encoding: "json", viaQuery: true });
    await using m = await connect(server.wsUrl, { encoding: "msgpack" });
    expect(j.welcome.encoding).toBe("json");
    await subscribe(j, topic);
    await subscribe(m, topic);
    m.send({ t: "pub", topic, key: "k", data: { price: 1.5, tags: ["a"], n: null } });
    const a = await j.next((f) => f.t === "msg");
    const b = await m.next((f) => f.t === "msg");
    expect(a).toEqual(b);
    expect(a.data).toEqual({ price: 1.5, tags: ["a"], n: null });
  });

  test("an unknown encoding or subprotocol is refused at upgrade with UNSUPPORTED_ENCODING", async () => {
    await using server = await startServer();
    const httpUrl = server.wsUrl.replace("ws:", "http:");
    for (const headers of [{ "sec-websocket-protocol": "mqtt" }, {}] as Record<string, string>[]) {
      const res = await fetch(`${httpUrl}${"sec-websocket-protocol" in headers ? "" : "?encoding=xml"}`, {
        headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", ...headers },
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe(ErrorCode.UNSUPPORTED_ENCODING);
    }
  });

  test("client type comes from the header or query", async () => {
    await using server = await startServer();
    await using a = await connect(server.wsUrl, { query: "client=device" });
    await using b = await connect(server.wsUrl, { headers: { "x-tickgate-client": "mobile" } });
    expect(a.welcome.client).toBe("device");
    expect(b.welcome.client).toBe("mobile");
    expect(server.stats().sessions).toMatchObject({ device: 1, mobile: 1 });
  });

  test("a binary payload keeps its exact bytes end to end", async () => {
    await using server = await startServer();
    const topic = uniqueTopic();
    await using c = await connect(server.wsUrl);
    await subscribe(c, topic);
    const bytes = new Uint8Array(256).map((_, i) => i);
    server.publish(topic, bytes);
    const f = await c.next((f) => f.t === "msg");
    expect(new Uint8Array(f.data)).toEqual(bytes);
    void packr;
  });
});
