/**
 * Issue 16, item 6: docs and code agree. Each case is a probe written from
 * the docs alone (docs/protocol.md, docs/http-api.md, docs/client.md,
 * README.md).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TickgateError } from "../../src/core/errors.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { startLoggedServer } from "../helpers/log-capture.ts";
import { startServer } from "../helpers/server.ts";
import { ROOT } from "../helpers/spawn.ts";
import { ALL_TG, hs256, hsAuth, tryUpgrade } from "../helpers/tokens.ts";

const doc = (name: string) => readFileSync(join(ROOT, "docs", name), "utf8");
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

async function call(c: TestClient, frame: Record<string, unknown>) {
  c.send(frame);
  return c.next((f) => f.id === frame.id);
}

describe("docs agree: error-table codes from handlers and devices are refused (issue 16)", () => {
  test("a handler rejecting with a code from the error table gives HANDLER_ERROR, over a socket and HTTP; its own code passes", async () => {
    await using server = await startServer();
    server.handle("spoof", () => {
      throw new TickgateError("FORBIDDEN", "pretending to be the server");
    });
    server.handle("own", () => {
      throw new TickgateError("NO_SUCH_RELAY", "relay 9 does not exist");
    });
    await using c = await connect(server.wsUrl);
    expect(await call(c, { t: "req", id: 1, method: "spoof" })).toMatchObject({ t: "error", code: "HANDLER_ERROR" });
    expect(await call(c, { t: "req", id: 2, method: "own" })).toMatchObject({ t: "error", code: "NO_SUCH_RELAY" });
    const r = await post(`${server.url}/api/request/spoof`, {});
    expect([r.status, (await r.json()).error.code]).toEqual([502, "HANDLER_ERROR"]);
  });

  test("a device's command_nack with a code from the error table is refused with INVALID_FRAME; its own code reaches the sender", async () => {
    await using server = await startServer();
    await using d = await connect(server.wsUrl, { encoding: "json" });
    expect((await call(d, { t: "hello", id: "h", client: "device", device: "nack-1" })).t).toBe("ack");
    const answer = post(`${server.url}/api/command`, { device: "nack-1", name: "go" });
    const cmd = await d.next((f) => f.t === "command");
    expect(await call(d, { t: "command_nack", id: "n1", cid: cmd.cid, code: "FORBIDDEN", message: "no" })).toMatchObject({ t: "error", code: "INVALID_FRAME" });
    expect(await call(d, { t: "command_nack", id: "n2", cid: cmd.cid, code: "BATTERY_LOW", message: "3%" })).toMatchObject({ t: "ack" });
    const r = await answer;
    expect([r.status, (await r.json()).error.code]).toEqual([422, "BATTERY_LOW"]);
  });

  test("protocol.md, http-api.md and client.md all say codes from the error table are the server's", () => {
    for (const name of ["protocol.md", "http-api.md", "client.md"]) {
      const text = doc(name);
      expect({ name, says: /reserved for the server/.test(text) }).toEqual({ name, says: true });
    }
    expect(doc("protocol.md")).not.toContain("gets that code's row");
    expect(doc("http-api.md")).not.toContain("or that of the code if the");
  });
});

describe("docs agree: frames and routes (issue 16)", () => {
  test("will.data is optional in hello (missing means null)", async () => {
    await using server = await startServer();
    await using watcher = await connect(server.wsUrl, { encoding: "json" });
    await subscribe(watcher, "wills.w1");
    const raw = await connect(server.wsUrl, { encoding: "json" });
    expect(await call(raw, { t: "hello", id: 1, client: "api", will: { topic: "wills.w1" } })).toMatchObject({ t: "ack" });
    raw.ws.close(4100, "gone");
    expect(await watcher.next((f) => f.t === "msg")).toMatchObject({ topic: "wills.w1", data: null });
  });

  test("POST /api/publish without data publishes null", async () => {
    await using server = await startServer();
    await using c = await connect(server.wsUrl, { encoding: "json" });
    await subscribe(c, "nodata.a");
    const r = await post(`${server.url}/api/publish`, { topic: "nodata.a" });
    expect(r.status).toBe(200);
    const m = await c.next((f) => f.t === "msg");
    expect("data" in m && m.data === null).toBe(true);
  });

  test("the ack of a repeated identical sub has no backlog", async () => {
    await using server = await startServer();
    server.publish("rep.a", 1);
    await using c = await connect(server.wsUrl, { encoding: "json" });
    const first = await call(c, { t: "sub", id: 1, topic: "rep.a" });
    expect(first.backlog).toBe(0);
    const again = await call(c, { t: "sub", id: 2, topic: "rep.a" });
    expect(again.t).toBe("ack");
    expect("backlog" in again).toBe(false);
  });

  test("an SSE stream may not hold more topics than maxSubscriptions", async () => {
    await using server = await startServer({ maxSubscriptions: 2 });
    const r = await fetch(`${server.url}/sse?topic=s.a&topic=s.b&topic=s.c`);
    expect([r.status, (await r.json()).error.code]).toEqual([429, "TOO_MANY_SUBSCRIPTIONS"]);
    const ok = await fetch(`${server.url}/sse?topic=s.a&topic=s.b`);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
  });

  test("protocol.md documents the RFC close codes 1002 and 1007, and NaN/Infinity reaching JSON subscribers as null", () => {
    const p = doc("protocol.md");
    // Booleans: the doc is long.
    expect(/^\| 1002 \|/m.test(p)).toBe(true);
    expect(/^\| 1007 \|/m.test(p)).toBe(true);
    expect(/`NaN`[^.]*`Infinity`[^.]*`null`/.test(p)).toBe(true);
  });

  test("NaN and Infinity published in msgpack reach JSON subscribers as null", async () => {
    await using server = await startServer();
    await using j = await connect(server.wsUrl, { encoding: "json" });
    await subscribe(j, "nan.a");
    await using m = await connect(server.wsUrl);
    expect(await call(m, { t: "pub", id: 1, topic: "nan.a", data: { a: Number.NaN, b: Number.POSITIVE_INFINITY } })).toMatchObject({ t: "ack" });
    expect((await j.next((f) => f.t === "msg")).data).toEqual({ a: null, b: null });
  });
});

describe("docs agree: authentication (issue 16)", () => {
  test("an empty Authorization header is a present, invalid header", async () => {
    await using server = await startServer({ auth: hsAuth({ anonymous: { subscribe: [">"] } }) });
    const up = await tryUpgrade(server.port, { headers: { Authorization: "" } });
    up.close();
    expect(up.status).toBe(401);
    const r = await fetch(`${server.url}/api/publish`, { method: "POST", headers: { "content-type": "application/json", authorization: "" }, body: "{}" });
    expect(r.status).toBe(401);
  });

  test("two pipelined first auth frames with different subjects are answered in order: the first binds, the second is refused", async () => {
    await using server = await startServer({ auth: hsAuth() });
    for (let round = 0; round < 5; round++) {
      await using c = await connect(server.wsUrl, { encoding: "json" });
      // A slow token (RS-style work is not needed: any verification is async) then a fast one.
      const a = await hs256({ sub: "first", tg: ALL_TG });
      const b = await hs256({ sub: "second", tg: ALL_TG });
      c.send({ t: "auth", id: "a1", token: a });
      c.send({ t: "auth", id: "a2", token: b });
      c.send({ t: "stats", id: "s" });
      const answers = await c.collect(3, (f) => ["a1", "a2", "s"].includes(f.id));
      expect(answers.map((f) => [f.id, f.t, f.code])).toEqual([
        ["a1", "ack", undefined],
        ["a2", "error", "FORBIDDEN"],
        ["s", "stats", undefined],
      ]);
    }
  });

  test("frames sent after a pending auth wait for it, in order", async () => {
    await using server = await startServer({ auth: hsAuth() });
    await using c = await connect(server.wsUrl, { encoding: "json" });
    c.send({ t: "auth", id: "a", token: await hs256({ sub: "carol", tg: ALL_TG }) });
    c.send({ t: "sub", id: "s1", topic: "order.a" });
    c.send({ t: "ping", id: "p" });
    const answers = await c.collect(3, (f) => ["a", "s1", "p"].includes(f.id));
    expect(answers.map((f) => [f.id, f.t])).toEqual([
      ["a", "ack"],
      ["s1", "ack"],
      ["p", "pong"],
    ]);
  });
});

describe("docs agree: refusals the README says are logged (issue 16)", () => {
  test("a refresh to another sub, a /stats 403 and a POST refused for its Origin are logged; rate-limit lines carry who", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth(), limits: { publishPerSecond: 0.001, publishBurst: 1 } });
    await using _s = server;
    await using c = await connect(server.wsUrl, { encoding: "json", headers: { authorization: `Bearer ${await hs256({ sub: "dave", tg: ALL_TG })}` } });
    expect(await call(c, { t: "auth", id: 1, token: await hs256({ sub: "eve", tg: ALL_TG }) })).toMatchObject({ code: "FORBIDDEN" });
    expect(logs.find({ event: "forbidden", who: "dave" }).length + logs.find({ event: "auth_refresh_refused", who: "dave" }).length).toBeGreaterThan(0);
    const stats = await fetch(`${server.url}/stats`, { headers: { authorization: `Bearer ${await hs256({ sub: "frank", tg: { subscribe: [">"] } })}` } });
    expect(stats.status).toBe(403);
    expect(logs.find({ event: "forbidden", who: "frank" }).length).toBeGreaterThan(0);
    const foreign = await post(`${server.url}/api/publish`, { topic: "x", data: 1 }, { origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect(logs.find({ event: "limit", code: "ORIGIN_NOT_ALLOWED", via: "http" }).length).toBeGreaterThan(0);
    const token = await hs256({ sub: "gina", tg: ALL_TG });
    let limited = 0;
    for (let i = 0; i < 5 && limited === 0; i++) {
      const r = await post(`${server.url}/api/publish`, { topic: "rl.a", data: i }, { authorization: `Bearer ${token}` });
      if (r.status === 429) limited++;
    }
    expect(limited).toBe(1);
    const lines = logs.entries.filter((e) => e.fields.code === "RATE_LIMITED");
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.fields.who).toBe("gina");
  });

  test("a rate-limit line names who, anonymous included", async () => {
    const { server, logs } = await startLoggedServer({ limits: { publishPerSecond: 0.001, publishBurst: 1 } });
    await using _s = server;
    await using c = await connect(server.wsUrl, { encoding: "json" });
    expect((await call(c, { t: "pub", id: 1, topic: "rl.b", data: 1 })).t).toBe("ack");
    expect(await call(c, { t: "pub", id: 2, topic: "rl.b", data: 2 })).toMatchObject({ code: "RATE_LIMITED" });
    const lines = logs.entries.filter((e) => e.fields.code === "RATE_LIMITED");
    expect(lines.map((l) => l.fields.who)).toEqual(["anonymous"]);
  });
});
