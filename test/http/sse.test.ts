import { describe, expect, test } from "bun:test";
import { connect, subscribe } from "../helpers/client.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { openSse } from "../helpers/sse.ts";

const base = (wsUrl: string) => wsUrl.replace("ws:", "http:").replace(/\/ws$/, "");

describe("SSE fallback", () => {
  test("streams the same publications, with the same seqs, as the WebSocket path", async () => {
    await using server = await startServer();
    const topic = uniqueTopic();
    await using ws = await connect(server.wsUrl, { encoding: "json" });
    await subscribe(ws, topic);
    await using sse = await openSse(`${base(server.wsUrl)}/sse?topic=${topic}`);
    expect(sse.status).toBe(200);
    expect((await sse.next((e) => e.event === "welcome")).data.encoding).toBe("json");
    expect((await sse.next((e) => e.event === "ack")).data).toMatchObject({ topic, seq: 0 });
    for (let i = 0; i < 20; i++) server.publish(topic, { i });
    const a = await sse.collect(20, (e) => e.event === "msg");
    const b = await ws.collect(20, (f) => f.t === "msg");
    expect(a.map((e) => e.data)).toEqual(b);
    expect(a.at(-1)!.id).toBe(`${server.broker.bus.epoch},${topic} 20`);
    expect(server.stats().connections).toBe(2);
  });

  test("Last-Event-ID recovers from history after a drop", async () => {
    await using server = await startServer({ policies: [{ match: "h.>", historySize: 100 }] });
    const topic = `h.${uniqueTopic()}`;
    const first = await openSse(`${base(server.wsUrl)}/sse?topic=h.>`);
    for (let i = 1; i <= 5; i++) server.publish(topic, i);
    const seen = await first.collect(5, (e) => e.event === "msg");
    first.abort();
    for (let i = 6; i <= 9; i++) server.publish(topic, i);
    await using again = await openSse(`${base(server.wsUrl)}/sse?topic=h.>`, { "last-event-id": seen.at(-1)!.id! });
    expect((await again.next((e) => e.event === "ack")).data.recovery).toEqual({ ok: true, replayed: 4 });
    server.publish(topic, 10);
    expect((await again.collect(5, (e) => e.event === "msg")).map((e) => e.data.data)).toEqual([6, 7, 8, 9, 10]);
  });

  test("bad requests get JSON errors", async () => {
    await using server = await startServer();
    const none = await fetch(`${base(server.wsUrl)}/sse`);
    expect(none.status).toBe(400);
    const bad = await fetch(`${base(server.wsUrl)}/sse?topic=a..b`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe("BAD_TOPIC");
  });

  test("a closed stream leaves the server's counts", async () => {
    await using server = await startServer();
    const s = await openSse(`${base(server.wsUrl)}/sse?topic=x`);
    await s.next((e) => e.event === "ack");
    expect(server.stats().connections).toBe(1);
    s.abort();
    const deadline = Date.now() + 5000;
    while (server.stats().connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(server.stats().connections).toBe(0);
    expect(server.stats().subscriptions).toBe(0);
  });
});
