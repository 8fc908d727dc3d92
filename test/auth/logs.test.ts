/**
 * What an operator sees in the logs: no token (nor its signature) ever, and
 * a line with the fields one greps for on every auth failure, limit hit and
 * refused action.
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { startLoggedServer, type LogCapture } from "../helpers/log-capture.ts";
import { openSse } from "../helpers/sse.ts";
import type { TestServer } from "../helpers/server.ts";
import { ALL_TG, forged, hs256, hsAuth, signatureOf, tryUpgrade, unsecured } from "../helpers/tokens.ts";

let ids = 0;
async function call(c: TestClient, frame: Record<string, unknown>) {
  const id = `g${++ids}`;
  c.send({ ...frame, id });
  return c.next((f) => f.id === id);
}

const http = (server: TestServer, path: string) => `http://127.0.0.1:${server.port}${path}`;
const post = (server: TestServer, body: unknown, token?: string) =>
  fetch(http(server, "/api/publish"), {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

function expectNoSecrets(logs: LogCapture, tokens: string[]): void {
  const text = logs.text();
  expect(text.length).toBeGreaterThan(0);
  for (const t of tokens) {
    expect(text.includes(t)).toBe(false);
    const sig = signatureOf(t);
    if (sig.length >= 8) expect(text.includes(sig)).toBe(false);
  }
}

describe("logs", () => {
  test("successful and failed authentications (header, query, auth frame, HTTP publish, SSE) never log a token", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth({ audience: "tickgate" }) });
    await using _ = server;
    const tokens: string[] = [];
    const mint = async (p: Promise<string> | string) => {
      const t = await p;
      tokens.push(t);
      return t;
    };
    const good = await mint(hs256({ sub: "alice", aud: "tickgate", tg: ALL_TG }));
    const narrow = await mint(hs256({ sub: "bob", aud: "tickgate", tg: { subscribe: ["bob.>"], publish: ["bob.>"] } }));
    const bad = [
      await mint(forged({ sub: "mallory", aud: "tickgate", tg: ALL_TG })),
      await mint(hs256({ sub: "late", aud: "tickgate", expIn: -60 })),
      await mint(unsecured({ sub: "none", aud: "tickgate" })),
      await mint(hs256({ sub: "odd", aud: "tickgate", tg: { client: "root" } })),
      await mint(hs256({ sub: "aud", aud: "other" })),
    ];

    // Successes.
    {
      await using a = await connect(server.wsUrl, { headers: { authorization: `Bearer ${good}` } });
      await using b = await connect(server.wsUrl, { query: `token=${good}` });
      await using c = await connect(server.wsUrl);
      expect((await call(c, { t: "auth", token: good })).t).toBe("ack");
      expect((await call(c, { t: "auth", token: good })).t).toBe("ack"); // refresh
      expect((await post(server, { topic: "x", data: 1 }, good)).status).toBe(200);
      await using s = await openSse(http(server, `/sse?topic=x&token=${good}`));
      await s.next((e) => e.event === "ack");
      void a;
      void b;
    }
    // Failures of every kind, through every door.
    for (const t of bad) {
      expect((await tryUpgrade(server.port, { headers: { Authorization: `Bearer ${t}` } })).status).toBe(401);
      expect((await tryUpgrade(server.port, { query: `token=${t}` })).status).toBe(401);
      await using c = await connect(server.wsUrl);
      c.send({ t: "auth", id: 1, token: t });
      await c.closed;
      expect((await post(server, { topic: "x", data: 1 }, t)).status).toBe(401);
      expect((await fetch(http(server, `/sse?topic=x&token=${t}`))).status).toBe(401);
      expect((await fetch(http(server, "/sse?topic=x"), { headers: { authorization: `Bearer ${t}` } })).status).toBe(401);
    }
    // A refresh with another sub, forbidden actions with a valid token.
    {
      await using c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${narrow}` } });
      expect((await call(c, { t: "auth", token: good })).code).toBe(ErrorCode.FORBIDDEN);
      expect((await call(c, { t: "sub", topic: "alice.x" })).code).toBe(ErrorCode.FORBIDDEN);
      expect((await post(server, { topic: "alice.x", data: 1 }, narrow)).status).toBe(403);
      expect((await fetch(http(server, `/sse?topic=alice.x&token=${narrow}`))).status).toBe(403);
    }
    await logs.waitFor({ event: "disconnect", who: "bob" });

    expectNoSecrets(logs, tokens);
    // Each failure left a line that says what happened, from where, and why.
    expect(logs.find({ event: "auth_failed", via: "upgrade" }).length).toBe(bad.length * 4); // header, query, SSE x2
    expect(logs.find({ event: "auth_failed", via: "frame" }).length).toBe(bad.length);
    for (const e of logs.find({ event: "auth_failed" }).filter((e) => e.fields.via !== "http")) {
      expect(e.fields.ip).toBe("127.0.0.1");
      expect(typeof e.fields.reason).toBe("string");
      expect(e.level).toBe("warn");
    }
    expect(logs.find({ event: "auth_failed", reason: "token has expired" }).length).toBeGreaterThan(0);
    expect(logs.find({ event: "auth_failed", via: "http" }).length).toBe(bad.length);
    // Successes are logged with who, not with the token.
    expect(logs.find({ event: "auth", who: "alice" }).length).toBe(1);
    expect(logs.find({ event: "auth_refresh", who: "alice" }).length).toBe(1);
    expect(logs.find({ event: "connect", who: "alice" }).length).toBeGreaterThanOrEqual(3);
    // Once over the socket, once for the SSE stream.
    expect(logs.find({ event: "forbidden", who: "bob", action: "subscribe", target: "alice.x", ip: "127.0.0.1" }).length).toBe(2);
    expect(logs.find({ event: "forbidden", who: "bob", action: "subscribe", target: "alice.x" })[0]!.fields.session).toBeDefined();
  });

  test("a refused HTTP token (POST /api/publish) is logged with the client's ip (was a bug)", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth() });
    await using _ = server;
    expect((await post(server, { topic: "x", data: 1 }, await forged({ tg: ALL_TG }))).status).toBe(401);
    const line = await logs.waitFor({ event: "auth_failed", via: "http" });
    expect(line.fields.reason).toBe("token signature is invalid");
    expect(line.fields.ip).toBe("127.0.0.1");
  });

  test("a FORBIDDEN HTTP publish writes an audit line and is counted (was a bug)", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth() });
    await using _ = server;
    const res = await post(server, { topic: "alice.x", data: 1 }, await hs256({ sub: "bob", tg: { publish: ["bob.>"] } }));
    expect([res.status, (await res.json()).error.code]).toEqual([403, ErrorCode.FORBIDDEN]);
    expect({
      audit: logs.find({ event: "forbidden", who: "bob", action: "publish", target: "alice.x" }).length,
      counted: server.stats().security!.forbidden,
    }).toEqual({ audit: 1, counted: 1 });
  });

  test("limit hits and timeouts: one line each with event, code, ip", async () => {
    const { server, logs } = await startLoggedServer({
      auth: hsAuth({ timeoutMs: 400, clockToleranceSec: 0 }),
      limits: { publishBurst: 2, publishPerSecond: 1, maxConnectionsPerIp: 3, allowedOrigins: ["https://app.example.com"] },
    });
    await using _ = server;
    const token = await hs256({ sub: "carol", expIn: 2, tg: ALL_TG });
    await using c = await connect(server.wsUrl, { query: `token=${token}` });
    await subscribe(c, "x");
    for (let i = 0; i < 3; i++) await call(c, { t: "pub", topic: "x", data: i });
    const rate = await logs.waitFor({ event: "limit", code: ErrorCode.RATE_LIMITED });
    expect(rate.fields).toMatchObject({ ip: "127.0.0.1", topic: "x" });
    expect(typeof rate.fields.session).toBe("string");

    // Over HTTP (an SSE request): a refused upgrade logs the same line (test/hardening/origin.test.ts).
    const origin = await fetch(`${server.url}/sse?topic=x`, { headers: { Origin: "https://evil.example.com" } });
    expect(origin.status).toBe(403);
    expect((await logs.waitFor({ event: "limit", code: ErrorCode.ORIGIN_NOT_ALLOWED })).fields).toMatchObject({ ip: "127.0.0.1", origin: "https://evil.example.com" });

    await using idle = await connect(server.wsUrl); // will time out (400 ms)
    await using third = await connect(server.wsUrl);
    const refused = await tryUpgrade(server.port);
    expect(refused.status).toBe(429);
    expect((await logs.waitFor({ event: "limit", code: ErrorCode.TOO_MANY_CONNECTIONS })).fields.ip).toBe("127.0.0.1");
    expect((await logs.waitFor({ event: "auth_timeout" })).fields.ip).toBe("127.0.0.1");
    expect((await logs.waitFor({ event: "token_expired" }, 4000)).fields).toMatchObject({ who: "carol", ip: "127.0.0.1" });
    expectNoSecrets(logs, [token]);
  });
});
