/**
 * The SSE fallback against the real server's `GET /sse` and
 * `POST /api/publish`: the WebSocket URL points at a server that accepts
 * TCP and never answers the upgrade (what a WebSocket-hostile proxy looks
 * like), so the client falls back after `connectTimeoutMs`.
 */
import { describe, expect, test } from "bun:test";
import { ClientErrorCode, ErrorCode } from "../../src/client/index.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";
import { openSse } from "../helpers/sse.ts";
import { hs256, hsAuth } from "../helpers/tokens.ts";
import { collector, silentServer, startClient, startProxy, type Watched } from "./support.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const httpBase = (port: number) => `http://127.0.0.1:${port}`;

/** A client whose WebSocket cannot get through, with SSE/HTTP going to `httpPort`. */
async function fallbackClient(blackhole: { url: string }, httpPort: number, extra: Record<string, unknown> = {}): Promise<Watched> {
  const w = startClient(blackhole.url, { connectTimeoutMs: 100, httpUrl: httpBase(httpPort), reconnect: { minDelayMs: 20, maxDelayMs: 100 }, ...extra });
  const modes: string[] = [];
  w.client.on("mode", (m) => modes.push(m));
  await w.until("connected", 5000);
  expect(modes).toEqual(["sse"]);
  return w;
}

/** Server-side count of SSE sessions (they are ordinary sessions to the server). */
const connections = (server: TestServer) => server.stats().connections;

describe("SSE fallback", () => {
  test("a WebSocket that does not open in time switches the client to SSE: subscribe, publish over HTTP", async () => {
    await using server = await startServer({ policies: [{ match: "srv.>", publish: "server" }] });
    await using blackhole = await silentServer();
    const early = uniqueTopic("early");
    await using w = startClient(blackhole.url, { connectTimeoutMs: 100, httpUrl: httpBase(server.port), clientType: "mobile" });
    // Queued while the WebSocket attempt hangs; sent over HTTP once the fallback takes over.
    const queued = w.client.publish(early, "before the switch");
    await w.until("connected");
    expect(await queued).toBe(1);
    expect(server.broker.topics.get(early)?.seq).toBe(1);
    expect(w.client.mode).toBe("sse");
    expect(w.states).toEqual(["connecting", "connected"]);
    const root = uniqueTopic("s");
    const exact = collector<{ i: number }>();
    const pattern = collector<{ i: number }>();
    await w.client.subscribe<{ i: number }>(`${root}.a`, exact.handler).ready();
    await w.client.subscribe<{ i: number }>(`${root}.*`, pattern.handler).ready();
    expect(w.client.welcome?.client).toBe("mobile");
    const seqs: number[] = [];
    for (let i = 1; i <= 5; i++) seqs.push(await w.client.publish(`${root}.a`, { i }));
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    server.publish(`${root}.b`, { i: 6 }, { key: "K" });
    expect((await exact.count(5)).map((m) => m.data.i)).toEqual([1, 2, 3, 4, 5]);
    expect((await pattern.count(6)).map((m) => [m.meta.topic, m.data.i])).toEqual([...range(1, 5).map((i) => [`${root}.a`, i]), [`${root}.b`, 6]]);
    expect(pattern.got[5]!.meta).toMatchObject({ seq: 1, key: "K" });
    // Fire and forget goes over HTTP too; refusals carry the wire code.
    w.client.publish(`${root}.a`, { i: 7 }, { ack: false });
    await exact.count(6);
    await expect(w.client.publish("srv.x", 1)).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
    await expect(w.client.request("anything")).rejects.toMatchObject({ code: ErrorCode.NO_HANDLER });
    expect(w.client.stats()).toMatchObject({ mode: "sse", state: "connected", messages: 7, reconnects: 0 });
    expect(connections(server)).toBe(1);
    w.client.close();
    expect(w.client.mode).toBe("sse");
  });

  test("over SSE, request(), command() and serverStats() go over HTTP, those queued in the connect window too", async () => {
    await using server = await startServer();
    server.handle("quote", (d) => ({ symbol: (d as { symbol: string }).symbol, bid: 1 }));
    server.handle("nothing", () => undefined);
    const id = `sse-dev-${process.pid}`;
    await using dev = startClient(server.wsUrl, { deviceId: id });
    dev.client.onCommand<{ on: boolean }>("switch", (d, { name }) => ({ name, on: d.on }));
    await dev.until("connected");
    await using blackhole = await silentServer();
    await using w = startClient(blackhole.url, { connectTimeoutMs: 100, httpUrl: httpBase(server.port) });
    // Asked while the WebSocket attempt hangs; answered over HTTP once the fallback takes over.
    const early = w.client.request("quote", { symbol: "BTC" });
    const earlyCommand = w.client.command(id, "switch", { on: true });
    const earlyStats = w.client.serverStats();
    await w.until("connected");
    expect(w.client.mode).toBe("sse");
    expect(await early).toEqual({ symbol: "BTC", bid: 1 });
    expect(await earlyCommand).toEqual({ name: "switch", on: true });
    expect((await earlyStats).devicesOnline).toBe(1);
    expect(await w.client.request("quote", { symbol: "ETH" })).toEqual({ symbol: "ETH", bid: 1 });
    expect(await w.client.request("nothing")).toBeNull();
    await expect(w.client.request("nope")).rejects.toMatchObject({ code: ErrorCode.NO_HANDLER });
    expect(await w.client.command(id, "switch", { on: false })).toEqual({ name: "switch", on: false });
    await expect(w.client.command("nobody-home", "switch", null, { ttlMs: 150 })).rejects.toMatchObject({ code: ErrorCode.COMMAND_TIMEOUT });
    const st = await w.client.serverStats();
    expect(st.connections).toBe(1); // the device; this client holds no stream (no subscriptions)
    expect(st.sessions.device).toBe(1);
    expect(st.session).toBeUndefined();
    // What has no HTTP form is refused on 'error'.
    w.client.log("info", "not a device");
    expect((await w.errorCount(1))[0]!.code).toBe(ClientErrorCode.UNSUPPORTED);
  });

  test("over SSE with auth on, a missing token is UNAUTHORIZED on requests and commands; stats need tg.admin", async () => {
    await using server = await startServer({ auth: hsAuth() });
    server.handle("quote", () => 1);
    await using blackhole = await silentServer();
    await using anon = startClient(blackhole.url, { connectTimeoutMs: 100, httpUrl: httpBase(server.port) });
    await anon.until("connected");
    await expect(anon.client.request("quote")).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    await expect(anon.client.command("d", "x")).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    await expect(anon.client.serverStats()).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    const token = await hs256({ sub: "ann", tg: { request: ["quote"] } });
    await using ann = startClient(blackhole.url, { token, connectTimeoutMs: 100, httpUrl: httpBase(server.port) });
    await ann.until("connected");
    expect(await ann.client.request("quote")).toBe(1);
    await expect(ann.client.command("d", "x")).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
    await expect(ann.client.serverStats()).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
  });

  test("recovery over SSE: a dropped stream resumes from its cursor, every publication once and in order", async () => {
    await using server = await startServer({ policies: [{ match: "rs.>", historySize: 10_000 }] });
    await using proxy = await startProxy(server.port);
    await using blackhole = await silentServer();
    await using w = await fallbackClient(blackhole, proxy.port);
    const root = uniqueTopic("rs");
    const exact = collector<number>();
    const pattern = collector<number>();
    // Not overlapping: see the server-bug test below for exact + pattern on one stream.
    await w.client.subscribe<number>(`${root}.x.a`, exact.handler).ready();
    await w.client.subscribe<number>(`${root}.y.*`, pattern.handler).ready();
    const N = 900;
    for (let i = 1; i <= N; i++) {
      server.publish(i % 3 === 0 ? `${root}.y.b` : i % 3 === 1 ? `${root}.y.a` : `${root}.x.a`, i);
      if (i === 300) {
        await exact.count(50);
        proxy.drop();
      }
      if (i % 10 === 0 && (i < 300 || i > 450)) await tick();
    }
    await pattern.count((N / 3) * 2, 10_000);
    await exact.count(N / 3, 10_000);
    expect(exact.got.map((m) => m.data)).toEqual(range(1, N).filter((i) => i % 3 === 2));
    expect(pattern.got.map((m) => m.data).sort((x, y) => x - y)).toEqual(range(1, N).filter((i) => i % 3 !== 2));
    for (const t of ["a", "b"]) expect(pattern.got.filter((m) => m.meta.topic === `${root}.y.${t}`).map((m) => m.meta.seq)).toEqual(range(1, N / 3));
    const st = w.client.stats();
    expect(st).toMatchObject({ reconnects: 1, gaps: 0, messages: N, mode: "sse" });
    expect(st.recovered).toBeGreaterThan(0);
    expect(w.states).toEqual(["connecting", "connected", "reconnecting", "connected"]);
  });

  // SERVER BUG (src/http/sse.ts, handleSse): the Last-Event-ID cursor object
  // is handed to the SseWriter, which advances it for every `msg` it writes,
  // while the subscribe loop in start() still reads it for the next topics'
  // recover positions. With `?topic=T&topic=<pattern covering T>`, T's replay
  // (written for the first subscription) moves the cursor to T's latest seq
  // before the pattern's recover position is computed, so the pattern
  // subscription replays nothing of T yet acks `recovery: {ok: true}`: its
  // handler loses those publications silently. Expected to fail until fixed
  // (e.g. compute every recover position, or copy the cursor, before the loop).
  test("an SSE stream resuming an exact topic and a pattern over it replays the topic to both (was a bug)", async () => {
    await using server = await startServer({ policies: [{ match: "ov.>", historySize: 100 }] });
    const root = uniqueTopic("ov");
    for (let i = 1; i <= 10; i++) server.publish(`${root}.a`, i);
    const epoch = server.broker.bus.epoch;
    const q = new URLSearchParams([["topic", `${root}.a`], ["topic", `${root}.>`], ["lastEventId", `${epoch},${root}.a 4`]]);
    await using sse = await openSse(`${httpBase(server.port)}/sse?${q}`);
    const exactAck = await sse.next((e) => e.event === "ack" && e.data.topic === `${root}.a`);
    expect(exactAck.data.recovery).toEqual({ ok: true, replayed: 6 });
    const patternAck = await sse.next((e) => e.event === "ack" && e.data.topic === `${root}.>`);
    // Asked from seq 4 like the exact subscription: seqs 5..10 must be replayed for it too.
    expect(patternAck.data.recovery).toEqual({ ok: true, replayed: 6 });
  });

  test("changing the subscription set reopens the stream without losing or repeating publications", async () => {
    await using server = await startServer({ policies: [{ match: "ch.>", historySize: 1000 }] });
    await using blackhole = await silentServer();
    await using w = await fallbackClient(blackhole, server.port);
    const a = `${uniqueTopic("ch")}.a`;
    const b = `${uniqueTopic("ch")}.b`;
    const ca = collector<number>();
    const cb = collector<number>();
    await w.client.subscribe<number>(a, ca.handler).ready();
    let n = 0;
    // Publications on `a` keep coming while `b` is added (stream reopened) and dropped again.
    const pump = (async () => {
      while (n < 300) {
        server.publish(a, ++n);
        if (n % 5 === 0) await tick();
      }
    })();
    await ca.count(50);
    const offB = w.client.subscribe<number>(b, cb.handler);
    await offB.ready();
    server.publish(b, 1);
    await cb.count(1);
    offB();
    await pump;
    await ca.count(300);
    expect(ca.got.map((m) => m.data)).toEqual(range(1, 300));
    expect(cb.got.map((m) => m.data)).toEqual([1]);
    expect(w.client.stats()).toMatchObject({ reconnects: 0, gaps: 0 });
    // Only one stream is left open on the server, subscribed to `a` alone.
    expect(connections(server)).toBe(1);
    expect(server.stats().subscriptions).toBe(1);
  });

  test("over SSE too, a position outside the history window is reported as reason 'window'", async () => {
    await using server = await startServer({ policies: [{ match: "sw.>", historySize: 3 }] });
    await using proxy = await startProxy(server.port);
    await using blackhole = await silentServer();
    await using w = await fallbackClient(blackhole, proxy.port);
    const topic = uniqueTopic("sw");
    const c = collector<number>();
    await w.client.subscribe<number>(topic, c.handler).ready();
    server.publish(topic, 1);
    await c.count(1);
    proxy.drop();
    for (let i = 2; i <= 10; i++) server.publish(topic, i);
    const [gap] = await w.gapCount(1);
    expect(gap).toMatchObject({ type: "recovery-failed", reason: "window", subscription: topic, seq: 10 });
    await w.until("connected");
    server.publish(topic, 11);
    await c.count(2);
    expect(c.got.map((m) => m.data)).toEqual([1, 11]);
  });
});
