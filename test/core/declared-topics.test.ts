/**
 * Declared topics (issue 15, item 3): with the server option `topics`, the
 * welcome lists them and the gate refuses anything they do not cover with
 * UNKNOWN_TOPIC, on WebSocket, SSE and HTTP alike. Real server, real sockets.
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { connect } from "../helpers/client.ts";
import { openSse } from "../helpers/sse.ts";
import { startServer } from "../helpers/server.ts";
import { hs256, hsAuth } from "../helpers/tokens.ts";

const DECLARED = ["simulation", "kpi", "prices.*"];

const postJson = (url: string, body: unknown) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("declared topics", () => {
  test("issue 15: a misspelt subscription is refused with UNKNOWN_TOPIC; declared ones (and what a pattern covers) pass", async () => {
    await using server = await startServer({ topics: DECLARED });
    await using c = await connect(server.wsUrl, { encoding: "json" });
    expect(c.welcome.topics).toEqual(DECLARED);
    c.send({ t: "sub", id: 1, topic: "weather" });
    const refused = await c.next((f) => f.id === 1);
    expect(refused).toMatchObject({ t: "error", code: ErrorCode.UNKNOWN_TOPIC, details: { topic: "weather" } });
    // A pattern wider than every declared entry is refused too; narrower ones pass.
    c.send({ t: "sub", id: 2, topic: "prices.>" });
    expect((await c.next((f) => f.id === 2)).code).toBe(ErrorCode.UNKNOWN_TOPIC);
    for (const [id, topic] of [[3, "simulation"], [4, "prices.BTC"], [5, "prices.*"]] as const) {
      c.send({ t: "sub", id, topic });
      expect((await c.next((f) => f.id === id)).t).toBe("ack");
    }
    // The refused subscription left nothing behind.
    expect(server.subscribers("weather")).toBe(0);
    server.publish("prices.BTC", 1);
    expect(await c.next((f) => f.t === "msg")).toMatchObject({ topic: "prices.BTC" });
  });

  test("a client publication to an undeclared topic is refused over WebSocket and HTTP; server-side producers are not held to the list", async () => {
    await using server = await startServer({ topics: DECLARED });
    await using c = await connect(server.wsUrl, { encoding: "json" });
    c.send({ t: "pub", id: 1, topic: "weather", data: 1 });
    expect((await c.next((f) => f.id === 1)).code).toBe(ErrorCode.UNKNOWN_TOPIC);
    c.send({ t: "pub", id: 2, topic: "kpi", data: 1 });
    expect(await c.next((f) => f.id === 2)).toMatchObject({ t: "ack", seq: 1 });
    const res = await postJson(`${server.url}/api/publish`, { topic: "weather", data: 1 });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.UNKNOWN_TOPIC);
    expect((await postJson(`${server.url}/api/publish`, { topic: "prices.ETH", data: 2 })).status).toBe(200);
    expect(server.publish("weather", 1)).toBe(1);
  });

  test("an SSE stream asking for an undeclared topic is refused before it opens", async () => {
    await using server = await startServer({ topics: DECLARED });
    const res = await fetch(`${server.url}/sse?topic=weather`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.UNKNOWN_TOPIC);
    await using s = await openSse(`${server.url}/sse?topic=kpi`);
    expect(s.status).toBe(200);
  });

  test("the grant check comes first: an ungranted, undeclared topic is FORBIDDEN", async () => {
    await using server = await startServer({ topics: DECLARED, auth: hsAuth() });
    const token = await hs256({ sub: "u1", tg: { subscribe: ["kpi"] } });
    await using c = await connect(`${server.wsUrl}?token=${token}`, { encoding: "json" });
    c.send({ t: "sub", id: 1, topic: "weather" });
    expect((await c.next((f) => f.id === 1)).code).toBe(ErrorCode.FORBIDDEN);
    c.send({ t: "sub", id: 2, topic: "kpi" });
    expect((await c.next((f) => f.id === 2)).t).toBe("ack");
  });

  test("without the option any valid topic may be used", async () => {
    await using server = await startServer();
    await using c = await connect(server.wsUrl, { encoding: "json" });
    expect(c.welcome.topics).toBeUndefined();
    c.send({ t: "sub", id: 1, topic: "weather" });
    expect((await c.next((f) => f.id === 1)).t).toBe("ack");
  });
});
