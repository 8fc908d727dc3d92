/** The SDK against a server with auth on: token on connect, refresh, and over SSE/HTTP. */
import { describe, expect, test } from "bun:test";
import { ClientErrorCode, ErrorCode } from "../../src/client/index.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { hs256, hsAuth, OTHER_SECRET } from "../helpers/tokens.ts";
import { collector, silentServer, startClient } from "./support.ts";

const grants = { subscribe: ["feed.>"], publish: ["feed.>"] };

describe("client: tokens", () => {
  test("connects with a token, is held to its grants, and refreshes it on the live connection", async () => {
    await using server = await startServer({ auth: hsAuth() });
    const topic = `feed.${uniqueTopic()}`;
    const token = await hs256({ sub: "alice", tg: grants, expIn: 60 });
    await using w = startClient(server.wsUrl, { token });
    await w.until("connected");
    const got = collector<number>();
    await w.client.subscribe<number>(topic, got.handler).ready();
    expect(await w.client.publish(topic, 1)).toBe(1);
    expect((await got.count(1))[0]!.data).toBe(1);
    await expect(w.client.publish("other.x", 2)).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
    await w.client.setToken(await hs256({ sub: "alice", tg: grants, expIn: 3600 }));
    await expect(w.client.setToken(await hs256({ sub: "mallory", tg: grants }))).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
    expect(await w.client.publish(topic, 3)).toBe(2);
  });

  test("a client without a token gets nowhere on a server that requires one", async () => {
    await using server = await startServer({ auth: hsAuth({ timeoutMs: 200 }) });
    await using w = startClient(server.wsUrl, { reconnect: { minDelayMs: 1000, maxDelayMs: 1000 } });
    await w.until("connected");
    await expect(w.client.publish("feed.x", 1)).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
  });

  test("over the SSE fallback the token goes as a bearer header", async () => {
    await using server = await startServer({ auth: hsAuth() });
    await using blackhole = await silentServer();
    const topic = `feed.${uniqueTopic()}`;
    const token = await hs256({ sub: "bob", tg: grants });
    await using w = startClient(blackhole.url, { token, connectTimeoutMs: 100, httpUrl: `http://127.0.0.1:${server.port}` });
    const got = collector<string>();
    w.client.subscribe<string>(topic, got.handler);
    await w.until("connected");
    expect(w.client.mode).toBe("sse");
    await w.client.subscribe<string>(topic, () => {}).ready();
    expect(await w.client.publish(topic, "hi")).toBe(1);
    expect((await got.count(1))[0]!.data).toBe("hi");
  });

  test("4408: a client without a token gets AUTH_TIMEOUT, keeps reconnecting, and setToken lets it in with its subscriptions", async () => {
    const secret = "x".repeat(32);
    await using server = await startServer({ auth: { required: true, secret, timeoutMs: 200 } });
    const topic = `feed.${uniqueTopic()}`;
    await using w = startClient(server.wsUrl, { reconnect: { minDelayMs: 50, maxDelayMs: 50 } });
    const got = collector<number>();
    const sub = w.client.subscribe<number>(topic, got.handler);
    await w.until("connected");
    await w.until("reconnecting", 2000);
    const codes = w.errors.map((e) => e.code);
    // The subscription was refused for want of a token, then the server gave up on the connection.
    expect(codes).toEqual([ErrorCode.UNAUTHORIZED, ClientErrorCode.AUTH_TIMEOUT]);
    expect(w.errors[1]!.details).toMatchObject({ closeCode: 4408 });
    expect(w.retries.length).toBeGreaterThanOrEqual(1);
    await w.client.setToken(await hs256({ sub: "carol", tg: grants }, secret));
    await sub.ready(3000);
    server.publish(topic, 1);
    expect((await got.count(1))[0]!.data).toBe(1);
    expect(w.client.state).toBe("connected");
  });

  test("4408 on a live connection fixed by setToken there: the refused subscription goes again once the auth frame is acked", async () => {
    await using server = await startServer({ auth: hsAuth({ timeoutMs: 5000 }) });
    const topic = `feed.${uniqueTopic()}`;
    await using w = startClient(server.wsUrl);
    const got = collector<number>();
    const sub = w.client.subscribe<number>(topic, got.handler);
    await w.errorCount(1);
    expect(w.errors[0]!.code).toBe(ErrorCode.UNAUTHORIZED);
    await w.client.setToken(await hs256({ sub: "dan", tg: grants }));
    await sub.ready();
    server.publish(topic, 7);
    expect((await got.count(1))[0]!.data).toBe(7);
    expect(w.client.stats().reconnects).toBe(0);
  });

  test("4401: a token refused on refresh rejects setToken and reports AUTH_FAILED", async () => {
    await using server = await startServer({ auth: hsAuth() });
    await using w = startClient(server.wsUrl, { token: await hs256({ sub: "erin", tg: grants }), reconnect: { minDelayMs: 5000 } });
    await w.until("connected");
    await expect(w.client.setToken(await hs256({ sub: "erin", tg: grants }, OTHER_SECRET))).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    const [e] = await w.errorCount(1);
    expect(e).toMatchObject({ code: ClientErrorCode.AUTH_FAILED, details: { closeCode: 4401 } });
    await w.until("reconnecting");
  });

  test("4403: an expired token is one TOKEN_EXPIRED error, then reconnecting; a fresh token gets back in", async () => {
    await using server = await startServer({ auth: hsAuth({ clockToleranceSec: 0 }) });
    await using w = startClient(server.wsUrl, { token: await hs256({ sub: "fay", tg: grants, expIn: 2 }), reconnect: { minDelayMs: 100, maxDelayMs: 100 } });
    await w.until("connected");
    await w.until("reconnecting", 4000);
    expect(w.errors.map((e) => e.code)).toEqual([ErrorCode.TOKEN_EXPIRED]);
    await w.client.setToken(await hs256({ sub: "fay", tg: grants, expIn: 60 }));
    await w.until("connected");
    expect(w.errors.map((e) => e.code)).toEqual([ErrorCode.TOKEN_EXPIRED]);
  });
});
