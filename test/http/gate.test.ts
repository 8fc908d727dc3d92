/**
 * One gate for every entry point (issue 10): the checks on publish,
 * subscribe, request and command hold on WebSocket, SSE and HTTP alike, and
 * every refusal writes its audit or limit line, whichever path it came by.
 * Real server, real sockets, real HTTP.
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { connect } from "../helpers/client.ts";
import { startLoggedServer } from "../helpers/log-capture.ts";
import { openSse } from "../helpers/sse.ts";
import { hs256, hsAuth } from "../helpers/tokens.ts";
import { uniqueTopic } from "../helpers/server.ts";

const postJson = (url: string, body: unknown, token?: string) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

describe("gate: per-topic publishRate", () => {
  // Issue 10: POST /api/publish used the connection-wide allowance only and ignored the topic's own rate.
  test("issue 10: a topic policy's publishRate applies to POST /api/publish as it does to a socket's pub", async () => {
    const { server, logs } = await startLoggedServer({ policies: [{ match: "slow.>", publishRate: 2 }] });
    await using _ = server;
    const topic = uniqueTopic("slow");
    const res = await postJson(`${server.url}/api/publish`, Array.from({ length: 5 }, (_, i) => ({ topic, data: i })));
    const { results } = (await res.json()) as { results: ({ seq: number } | { error: { code: string } })[] };
    const limited = results.filter((r) => "error" in r && r.error.code === ErrorCode.RATE_LIMITED);
    // The bucket holds 2; refilling at 2/s may add at most one more while the batch runs.
    expect(results.length - limited.length).toBeGreaterThanOrEqual(2);
    expect(limited.length).toBeGreaterThanOrEqual(2);
    const line = await logs.waitFor({ event: "limit", code: ErrorCode.RATE_LIMITED, via: "http" });
    expect(line.fields).toMatchObject({ ip: "127.0.0.1", topic });
  });

  test("a socket's pub over the topic's publishRate is refused and logged the same way", async () => {
    const { server, logs } = await startLoggedServer({ policies: [{ match: "slow.>", publishRate: 2 }] });
    await using _ = server;
    const topic = uniqueTopic("slow");
    await using c = await connect(server.wsUrl, { encoding: "json" });
    for (let i = 1; i <= 5; i++) c.send({ t: "pub", id: i, topic, data: i });
    const answers = await c.collect(5, (f) => f.id !== undefined && (f.t === "ack" || f.t === "error"));
    expect(answers.filter((f) => f.t === "error" && f.code === ErrorCode.RATE_LIMITED).length).toBeGreaterThanOrEqual(2);
    expect((await logs.waitFor({ event: "limit", code: ErrorCode.RATE_LIMITED, via: "ws" })).fields).toMatchObject({ ip: "127.0.0.1", topic });
  });
});

describe("gate: every refusal is audited on every path", () => {
  async function fixture() {
    const { server, logs } = await startLoggedServer({ auth: hsAuth() });
    // bob may read and write bob.> and call bob.* methods; nothing else.
    const token = await hs256({ sub: "bob", tg: { subscribe: ["bob.>"], publish: ["bob.>"], request: ["bob.*"] } });
    return { server, logs, token };
  }

  test("forbidden subscribe: WebSocket and SSE both write the audit line", async () => {
    const { server, logs, token } = await fixture();
    await using _ = server;
    await using c = await connect(`${server.wsUrl}?token=${token}`, { encoding: "json" });
    c.send({ t: "sub", id: 1, topic: "alice.ws" });
    expect((await c.next((f) => f.id === 1)).code).toBe(ErrorCode.FORBIDDEN);
    const ws = await logs.waitFor({ event: "forbidden", action: "subscribe", target: "alice.ws" });
    expect(ws.fields).toMatchObject({ who: "bob", via: "ws", ip: "127.0.0.1" });
    expect(ws.fields.session).toBeDefined();

    const sse = await fetch(`${server.url}/sse?topic=alice.sse`, { headers: { authorization: `Bearer ${token}` } });
    expect(sse.status).toBe(403);
    expect(((await sse.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.FORBIDDEN);
    expect((await logs.waitFor({ event: "forbidden", action: "subscribe", target: "alice.sse" })).fields).toMatchObject({ who: "bob", via: "sse", ip: "127.0.0.1" });
    // The refused stream gave its connection slot back and never opened.
    expect(server.connections).toBe(1);
  });

  test("forbidden publish, request and command: WebSocket and HTTP both write the audit line", async () => {
    const { server, logs, token } = await fixture();
    await using _ = server;
    await using c = await connect(`${server.wsUrl}?token=${token}`, { encoding: "json" });
    c.send({ t: "pub", id: 1, topic: "alice.p", data: 1 });
    c.send({ t: "req", id: 2, method: "alice.m", data: null });
    c.send({ t: "command", id: 3, device: "cam-1", name: "reboot" });
    const errors = await c.collect(3, (f) => f.t === "error");
    expect(errors.map((f) => f.code)).toEqual([ErrorCode.FORBIDDEN, ErrorCode.FORBIDDEN, ErrorCode.FORBIDDEN]);

    const answers = await Promise.all([
      postJson(`${server.url}/api/publish`, { topic: "alice.p", data: 1 }, token),
      postJson(`${server.url}/api/request/alice.m`, { data: null }, token),
      postJson(`${server.url}/api/command`, { device: "cam-1", name: "reboot" }, token),
    ]);
    expect(answers.map((r) => r.status)).toEqual([403, 403, 403]);

    for (const [action, target] of [
      ["publish", "alice.p"],
      ["request", "alice.m"],
      ["command", "devices.cam-1.commands"],
    ] as const) {
      for (const via of ["ws", "http"]) {
        const line = await logs.waitFor({ event: "forbidden", action, target, via });
        expect(line.fields).toMatchObject({ who: "bob", ip: "127.0.0.1" });
      }
    }
    expect(server.stats().security!.forbidden).toBe(6);
  });

  test("an SSE stream's subscriptions go through the gate: a granted stream is welcomed and acked", async () => {
    const { server, token } = await fixture();
    await using _ = server;
    const topic = uniqueTopic("bob");
    await using s = await openSse(`${server.url}/sse?topic=${topic}`, { authorization: `Bearer ${token}` });
    expect(s.status).toBe(200);
    expect((await s.next((e) => e.event === "ack")).data).toMatchObject({ t: "ack", id: topic, topic, seq: 0 });
  });
});
