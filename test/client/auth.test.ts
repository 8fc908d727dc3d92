/** The SDK against a server with auth on: token on connect, refresh, and over SSE/HTTP. */
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/client/index.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { hs256, hsAuth } from "../helpers/tokens.ts";
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
});
