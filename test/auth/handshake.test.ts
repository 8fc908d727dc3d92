/**
 * Authenticating after the upgrade with an `auth` frame, the auth deadline,
 * anonymous grants, token refresh and expiry on a live connection. All of
 * it runs from 127.0.0.1: localhost gets no exception.
 */
import { describe, expect, test } from "bun:test";
import { CloseCode, ErrorCode } from "../../src/protocol/codes.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { startLoggedServer } from "../helpers/log-capture.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { ALL_TG, forged, hs256, hsAuth } from "../helpers/tokens.ts";

let ids = 0;
async function call(c: TestClient, frame: Record<string, unknown>, timeoutMs = 5000) {
  const id = `h${++ids}`;
  c.send({ ...frame, id });
  return c.next((f) => f.id === id, timeoutMs);
}

async function settle(c: TestClient): Promise<void> {
  expect((await call(c, { t: "ping" })).t).toBe("pong");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sleeps until `ms` after a token's `exp` (seconds since the epoch). */
const pastExp = (token: string, ms: number) => {
  const exp = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).exp as number;
  return sleep(Math.max(0, exp * 1000 + ms - Date.now()));
};

describe("auth frame", () => {
  test("without a token the welcome arrives, everything but auth is UNAUTHORIZED, a valid auth frame opens it up", async () => {
    await using server = await startServer({ auth: hsAuth() });
    const topic = uniqueTopic("hs");
    await using c = await connect(server.wsUrl, { encoding: "json" });
    expect(c.welcome.t).toBe("welcome");
    const frames: Record<string, unknown>[] = [
      { t: "sub", topic },
      { t: "unsub", topic },
      { t: "pub", topic, data: 1 },
      { t: "req", method: "x" },
      { t: "ping" },
      { t: "stats" },
      { t: "hello", client: "device", device: "pico-1", will: { topic, data: "bye" } },
      { t: "command", device: "pico-1", name: "reboot" },
      { t: "command_ack", cid: "x" },
      { t: "log", message: "hi" },
    ];
    for (const f of frames) expect({ t: f.t, r: await call(c, f) }).toMatchObject({ t: f.t, r: { t: "error", code: ErrorCode.UNAUTHORIZED } });
    expect(server.stats().messages.publications).toBe(0);
    expect(server.stats().devicesOnline).toBe(0);

    expect(await call(c, { t: "auth", token: await hs256({ tg: { subscribe: [topic], publish: [topic] } }) })).toEqual({ t: "ack", id: expect.any(String) });
    expect((await call(c, { t: "sub", topic })).t).toBe("ack");
    expect((await call(c, { t: "pub", topic, data: { n: 1 } })).t).toBe("ack");
    expect((await c.next((f) => f.t === "msg")).data).toEqual({ n: 1 });
  });

  test("an invalid auth frame gets UNAUTHORIZED and close 4401; an expired one TOKEN_EXPIRED and 4401", async () => {
    await using server = await startServer({ auth: hsAuth() });
    {
      await using c = await connect(server.wsUrl);
      expect(await call(c, { t: "auth", token: await forged({ tg: ALL_TG }) })).toMatchObject({ t: "error", code: ErrorCode.UNAUTHORIZED });
      expect((await c.closed).code).toBe(CloseCode.AUTH_FAILED);
    }
    {
      await using c = await connect(server.wsUrl, { encoding: "json" });
      expect(await call(c, { t: "auth", token: "garbage" })).toMatchObject({ t: "error", code: ErrorCode.UNAUTHORIZED });
      expect((await c.closed).code).toBe(CloseCode.AUTH_FAILED);
    }
    {
      await using c = await connect(server.wsUrl);
      expect(await call(c, { t: "auth", token: await hs256({ expIn: -60, tg: ALL_TG }) })).toMatchObject({ t: "error", code: ErrorCode.TOKEN_EXPIRED });
      expect((await c.closed).code).toBe(CloseCode.AUTH_FAILED);
    }
    expect(server.stats().security!.authFailures).toBe(3);
    expect(server.stats().connections).toBe(0);
  });

  test("no auth frame within auth.timeoutMs closes with 4408; an auth frame in time cancels the deadline", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth({ timeoutMs: 200 }) });
    await using _ = server;
    await using late = await connect(server.wsUrl);
    await using early = await connect(server.wsUrl);
    expect((await call(early, { t: "auth", token: await hs256({ tg: ALL_TG }) })).t).toBe("ack");
    expect((await late.closed).code).toBe(CloseCode.AUTH_TIMEOUT);
    expect(server.stats().security!.authTimeouts).toBe(1);
    expect(logs.find({ event: "auth_timeout" })[0]!.fields.ip).toBe("127.0.0.1");
    await sleep(300);
    await settle(early); // still open well past the deadline
  });

  test("localhost gets no exception: 127.0.0.1 with Host: localhost still needs a token", async () => {
    await using server = await startServer({ auth: hsAuth() });
    await using c = await connect(server.wsUrl.replace("127.0.0.1", "localhost"));
    expect(await call(c, { t: "sub", topic: "a" })).toMatchObject({ t: "error", code: ErrorCode.UNAUTHORIZED });
  });
});

describe("anonymous grants", () => {
  test("auth.anonymous.subscribe public.> lets a client without a token read public.x, nothing else", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth({ anonymous: { subscribe: ["public.>"] } }) });
    await using _ = server;
    await using anon = await connect(server.wsUrl);
    expect((await call(anon, { t: "sub", topic: "public.x" })).t).toBe("ack");
    for (const topic of ["private.x", ">", "public", "*.x"]) {
      expect(await call(anon, { t: "sub", topic })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    }
    expect(await call(anon, { t: "pub", topic: "public.x", data: 1 })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expect(await call(anon, { t: "req", method: "x" })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expect(logs.find({ event: "forbidden", target: "private.x" })[0]!.fields).toMatchObject({ who: "anonymous", ip: "127.0.0.1", action: "subscribe" });
    server.publish("private.x", "secret");
    server.publish("public.x", "hello");
    expect((await anon.next((f) => f.t === "msg")).data).toBe("hello");
    await settle(anon);
    expect(anon.frames.filter((f) => f.t === "msg")).toEqual([]);
    // No deadline for an anonymous connection, and an auth frame upgrades it.
    expect((await call(anon, { t: "auth", token: await hs256({ sub: "bob", tg: { subscribe: ["private.>", "public.>"] } }) })).t).toBe("ack");
    expect((await call(anon, { t: "sub", topic: "private.x" })).t).toBe("ack");
  });
});

describe("refresh and expiry", () => {
  test("a refresh with the same sub extends the connection past the first token's exp", async () => {
    await using server = await startServer({ auth: hsAuth({ clockToleranceSec: 0 }) });
    const topic = uniqueTopic("r");
    const first = await hs256({ sub: "alice", expIn: 2, tg: { subscribe: [topic] } });
    await using c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${first}` } });
    await subscribe(c, topic);
    expect((await call(c, { t: "auth", token: await hs256({ sub: "alice", expIn: 600, tg: { subscribe: [topic] } }) })).t).toBe("ack");
    await pastExp(first, 400);
    await settle(c);
    server.publish(topic, "still here");
    expect((await c.next((f) => f.t === "msg")).data).toBe("still here");
    expect(c.frames.filter((f) => f.t === "error")).toEqual([]);
    expect(server.stats().security!.expired).toBe(0);
  });

  test("a refresh with another sub is FORBIDDEN and changes nothing", async () => {
    await using server = await startServer({ auth: hsAuth({ clockToleranceSec: 0 }) });
    await using c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await hs256({ sub: "alice", tg: { subscribe: ["a.>"] } })}` } });
    expect(await call(c, { t: "auth", token: await hs256({ sub: "mallory", tg: ALL_TG }) })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expect(await call(c, { t: "sub", topic: "b.x" })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expect((await call(c, { t: "stats" })).data.session.who).toBe("alice");
  });

  test("a refresh with narrower grants ends the subscriptions it no longer covers", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth({ clockToleranceSec: 0 }) });
    await using _ = server;
    await using c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await hs256({ sub: "alice", tg: { subscribe: ["a.>", "b.>"] } })}` } });
    await subscribe(c, "a.x");
    await subscribe(c, "b.>");
    await subscribe(c, "b.y");
    expect((await call(c, { t: "auth", token: await hs256({ sub: "alice", tg: { subscribe: ["a.>", "b.y"] } }) })).t).toBe("ack");
    const err = await c.next((f) => f.t === "error");
    expect(err).toMatchObject({ code: ErrorCode.FORBIDDEN, details: { topic: "b.>" } });
    expect(err.message).toContain("b.>");
    expect(logs.find({ event: "forbidden", action: "keep subscription", target: "b.>" })[0]!.fields.who).toBe("alice");
    server.publish("b.z", "gone");
    server.publish("b.y", "kept");
    server.publish("a.x", "kept too");
    const got = await c.collect(2, (f) => f.t === "msg");
    expect(got.map((f) => f.topic)).toEqual(["b.y", "a.x"]);
    await settle(c);
    expect(c.frames.filter((f) => f.t === "msg" || f.t === "error")).toEqual([]);
    expect((await call(c, { t: "stats" })).data.session.subscriptions).toBe(2);
  });

  test("a token that expires on a live connection: error TOKEN_EXPIRED, then close 4403", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth({ clockToleranceSec: 0 }) });
    await using _ = server;
    const token = await hs256({ sub: "alice", expIn: 2, tg: ALL_TG });
    await using c = await connect(server.wsUrl, { query: `token=${token}` });
    await settle(c);
    const err = await c.next((f) => f.t === "error", 4000);
    expect(err.code).toBe(ErrorCode.TOKEN_EXPIRED);
    expect((await c.closed).code).toBe(CloseCode.TOKEN_EXPIRED);
    expect(server.stats().security!.expired).toBe(1);
    expect(logs.find({ event: "token_expired" })[0]!.fields).toMatchObject({ who: "alice", ip: "127.0.0.1" });
  });

  test("a token inside auth.clockToleranceSec is accepted and lives until exp + tolerance", async () => {
    await using server = await startServer({ auth: hsAuth({ clockToleranceSec: 3 }) });
    const token = await hs256({ expIn: -1, tg: ALL_TG });
    await using c = await connect(server.wsUrl, { query: `token=${token}` });
    await settle(c);
    const t0 = Date.now();
    expect((await c.next((f) => f.t === "error", 4500)).code).toBe(ErrorCode.TOKEN_EXPIRED);
    expect(Date.now() - t0).toBeGreaterThan(500);
    expect((await c.closed).code).toBe(CloseCode.TOKEN_EXPIRED);
  });

  test("a refresh with narrower grants drops a will the new token may not publish to (was a bug)", async () => {
    await using server = await startServer({ auth: hsAuth({ clockToleranceSec: 0 }) });
    await using w = await connect(server.wsUrl, { query: `token=${await hs256({ sub: "ops", tg: ALL_TG })}` });
    await subscribe(w, "status.>");
    const c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await hs256({ sub: "alice", tg: { publish: ["status.alice"] } })}` } });
    expect((await call(c, { t: "hello", client: "api", will: { topic: "status.alice", data: "gone" } })).t).toBe("ack");
    expect((await call(c, { t: "auth", token: await hs256({ sub: "alice", tg: { publish: [] } }) })).t).toBe("ack");
    expect(await call(c, { t: "pub", topic: "status.alice", data: "x" })).toMatchObject({ code: ErrorCode.FORBIDDEN });
    c.ws.close(4000, "crash");
    await c.closed;
    for (let i = 0; server.stats().connections > 1 && i < 200; i++) await sleep(5);
    await settle(w);
    // Expected: the refresh dropped the will along with the grant, so nothing is published.
    expect(w.frames.filter((f) => f.t === "msg").map((f) => [f.topic, f.data])).toEqual([]);
  });

  test("a token from an auth frame expires the same way", async () => {
    await using server = await startServer({ auth: hsAuth({ clockToleranceSec: 0 }) });
    await using c = await connect(server.wsUrl);
    expect((await call(c, { t: "auth", token: await hs256({ expIn: 2, tg: ALL_TG }) })).t).toBe("ack");
    expect((await c.next((f) => f.t === "error", 4000)).code).toBe(ErrorCode.TOKEN_EXPIRED);
    expect((await c.closed).code).toBe(CloseCode.TOKEN_EXPIRED);
  });
});
