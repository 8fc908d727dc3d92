/**
 * Limits: publish rate (per connection and per topic policy), frame and
 * payload size, connections per IP and in total, the origin allow-list, and
 * the HTTP routes (publish, SSE) under auth.
 */
import { describe, expect, test } from "bun:test";
import { CloseCode, ErrorCode } from "../../src/protocol/codes.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { startLoggedServer } from "../helpers/log-capture.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";
import { openSse } from "../helpers/sse.ts";
import { ALL_TG, hs256, hsAuth, tryUpgrade } from "../helpers/tokens.ts";

let ids = 0;
async function call(c: TestClient, frame: Record<string, unknown>) {
  const id = `l${++ids}`;
  c.send({ ...frame, id });
  return c.next((f) => f.id === id);
}

/** Sends `n` publishes back to back and returns the answers in order. */
async function flood(c: TestClient, topic: string, n: number) {
  const frameIds = Array.from({ length: n }, () => `f${++ids}`);
  for (const [i, id] of frameIds.entries()) c.send({ t: "pub", id, topic, data: i });
  return Promise.all(frameIds.map((id) => c.next((f) => f.id === id)));
}

const http = (server: TestServer, path: string) => `http://127.0.0.1:${server.port}${path}`;

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("publish rate", () => {
  test("past publishBurst exactly the burst is acked, the rest get RATE_LIMITED and are not delivered", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth(), limits: { publishBurst: 5, publishPerSecond: 1 } });
    await using _ = server;
    const topic = uniqueTopic("rate");
    await using sub = await connect(server.wsUrl, { query: `token=${await hs256({ sub: "reader", tg: ALL_TG })}` });
    await subscribe(sub, topic);
    await using c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await hs256({ sub: "flooder", tg: ALL_TG })}` } });
    const answers = await flood(c, topic, 12);
    expect(answers.map((f) => (f.t === "ack" ? "ack" : f.code))).toEqual([...Array(5).fill("ack"), ...Array(7).fill(ErrorCode.RATE_LIMITED)]);
    const got = await sub.collect(5, (f) => f.t === "msg");
    expect(got.map((f) => f.data)).toEqual([0, 1, 2, 3, 4]);
    expect((await call(sub, { t: "ping" })).t).toBe("pong");
    expect(sub.frames.filter((f) => f.t === "msg")).toEqual([]);
    expect(server.stats().security!.rateLimited).toBe(7);
    expect(logs.find({ event: "limit", code: ErrorCode.RATE_LIMITED }).length).toBe(7);
    expect(logs.find({ event: "limit", code: ErrorCode.RATE_LIMITED })[0]!.fields).toMatchObject({ ip: "127.0.0.1", topic });
    // The limit is per connection: another connection has its own burst.
    await using other = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await hs256({ sub: "flooder", tg: ALL_TG })}` } });
    expect((await call(other, { t: "pub", topic, data: "x" })).t).toBe("ack");
  });

  test("a topic policy's publishRate overrides the connection-wide limit there", async () => {
    await using server = await startServer({
      limits: { publishBurst: 5, publishPerSecond: 1 },
      policies: [{ match: "slow.>", publishRate: 2 }],
    });
    await using c = await connect(server.wsUrl);
    const slow = await flood(c, "slow.a", 4);
    expect(slow.map((f) => (f.t === "ack" ? "ack" : f.code))).toEqual(["ack", "ack", ErrorCode.RATE_LIMITED, ErrorCode.RATE_LIMITED]);
    // One bucket per policy: slow.b shares slow.a's (empty) allowance ...
    expect((await call(c, { t: "pub", topic: "slow.b", data: 1 })).code).toBe(ErrorCode.RATE_LIMITED);
    // ... and the connection-wide bucket was not touched.
    const fast = await flood(c, "fast.a", 6);
    expect(fast.map((f) => (f.t === "ack" ? "ack" : f.code))).toEqual([...Array(5).fill("ack"), ErrorCode.RATE_LIMITED]);
  });
});

describe("sizes", () => {
  test("a frame over maxFrameBytes closes with 1009; a payload over maxPayload is PAYLOAD_TOO_LARGE", async () => {
    await using server = await startServer({ auth: hsAuth(), maxFrameBytes: 8192, defaultPolicy: { maxPayload: 1024 } });
    const token = await hs256({ tg: ALL_TG });
    await using watch = await connect(server.wsUrl, { query: `token=${token}` });
    await subscribe(watch, ">");
    await using c = await connect(server.wsUrl, { query: `token=${token}` });
    expect(await call(c, { t: "pub", topic: "big", data: "x".repeat(2000) })).toMatchObject({ t: "error", code: ErrorCode.PAYLOAD_TOO_LARGE, details: { limit: 1024 } });
    expect((await call(c, { t: "pub", topic: "small", data: "x" })).t).toBe("ack");
    c.send({ t: "pub", topic: "huge", data: "x".repeat(20_000) });
    expect((await c.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    expect((await watch.next((f) => f.t === "msg")).topic).toBe("small");
    expect((await call(watch, { t: "ping" })).t).toBe("pong");
    expect(watch.frames.filter((f) => f.t === "msg")).toEqual([]);
  });
});

describe("connections", () => {
  test("maxConnectionsPerIp: 2 → the third upgrade is 429 TOO_MANY_CONNECTIONS; a close frees a slot", async () => {
    const { server, logs } = await startLoggedServer({ limits: { maxConnectionsPerIp: 2 } });
    await using _ = server;
    const a = await connect(server.wsUrl);
    await using b = await connect(server.wsUrl);
    const third = await tryUpgrade(server.port);
    expect([third.status, third.body.error.code]).toEqual([429, ErrorCode.TOO_MANY_CONNECTIONS]);
    expect(server.stats().security!.refusedPerIp).toBe(1);
    expect(logs.find({ event: "limit", code: ErrorCode.TOO_MANY_CONNECTIONS })[0]!.fields.ip).toBe("127.0.0.1");
    a.close();
    await a.closed;
    await waitFor(() => server.stats().connections === 1);
    await using again = await connect(server.wsUrl);
    expect(again.welcome.t).toBe("welcome");
  });

  test("maxConnections total → 503 TOO_MANY_CONNECTIONS", async () => {
    await using server = await startServer({ limits: { maxConnections: 2 } });
    await using a = await connect(server.wsUrl);
    await using b = await connect(server.wsUrl);
    const third = await tryUpgrade(server.port);
    expect([third.status, third.body.error.code]).toEqual([503, ErrorCode.TOO_MANY_CONNECTIONS]);
    expect(server.stats().security!.refusedTotal).toBe(1);
    expect(server.stats().connections).toBe(2);
  });

  test("concurrent upgrades with a token cannot pass maxConnectionsPerIp (was a bug: gate checked before the async token check, counted only on open)", async () => {
    await using server = await startServer({ auth: hsAuth(), limits: { maxConnectionsPerIp: 2 } });
    const token = await hs256({ tg: ALL_TG });
    const answers = await Promise.all(Array.from({ length: 6 }, () => tryUpgrade(server.port, { headers: { Authorization: `Bearer ${token}` } })));
    try {
      await waitFor(() => server.stats().connections >= answers.filter((r) => r.status === 101).length);
      expect(answers.filter((r) => r.status === 101).length).toBe(2);
      expect(server.stats().connections).toBeLessThanOrEqual(2);
    } finally {
      for (const r of answers) r.close();
    }
  });
});

/** A Bun WebSocket with an Origin header, to its close (test/hardening/origin.test.ts has the details). */
function refusedClose(url: string, origin: string): Promise<{ code: number; reason: string; frames: number }> {
  const ws = new WebSocket(url, { headers: { Origin: origin } } as unknown as string[]);
  let frames = 0;
  ws.onmessage = () => frames++;
  return new Promise((resolve) => (ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, frames })));
}

describe("origin", () => {
  test("a foreign Origin is closed with 4406 ORIGIN_NOT_ALLOWED; same origin and allow-listed origins get in", async () => {
    const { server, logs } = await startLoggedServer({ limits: { allowedOrigins: ["https://app.example.com"] } });
    await using _ = server;
    for (const origin of ["https://evil.example.com", "null", "http://127.0.0.1:1", "http://localhost:" + server.port, "not a url"]) {
      const r = await refusedClose(server.wsUrl, origin);
      expect({ origin, ...r }).toEqual({ origin, code: CloseCode.ORIGIN_NOT_ALLOWED, reason: `origin '${origin}' is not allowed`, frames: 0 });
    }
    expect(server.stats().security!.refusedOrigin).toBe(5);
    expect(logs.find({ event: "limit", code: ErrorCode.ORIGIN_NOT_ALLOWED })[0]!.fields).toMatchObject({ ip: "127.0.0.1", origin: "https://evil.example.com" });
    for (const origin of [`http://127.0.0.1:${server.port}`, "https://app.example.com"]) {
      const r = await tryUpgrade(server.port, { headers: { Origin: origin } });
      expect({ origin, status: r.status }).toEqual({ origin, status: 101 });
      r.close();
    }
    // A real client with the same origin, labelled a browser.
    await using c = await connect(server.wsUrl, { headers: { origin: `http://127.0.0.1:${server.port}` } });
    expect(c.welcome.client).toBe("browser");
    // No Origin header (not a browser): allowed.
    const api = await tryUpgrade(server.port);
    expect(api.status).toBe(101);
    api.close();
  });

  test("by default only the server's own origin may connect", async () => {
    await using server = await startServer();
    const foreign = await refusedClose(server.wsUrl, "https://app.example.com");
    expect(foreign.code).toBe(CloseCode.ORIGIN_NOT_ALLOWED);
    const same = await tryUpgrade(server.port, { headers: { Origin: `http://127.0.0.1:${server.port}` } });
    expect(same.status).toBe(101);
    same.close();
  });
});

describe("HTTP routes under auth", () => {
  const post = (server: TestServer, body: unknown, token?: string) =>
    fetch(http(server, "/api/publish"), {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  test("POST /api/publish: no token 401, bad token 401, no grant 403 FORBIDDEN, grant → published", async () => {
    await using server = await startServer({ auth: hsAuth() });
    const topic = uniqueTopic("http");
    await using watch = await connect(server.wsUrl, { query: `token=${await hs256({ sub: "ops", tg: ALL_TG })}` });
    await subscribe(watch, ">");

    const none = await post(server, { topic, data: 1 });
    expect([none.status, (await none.json()).error.code]).toEqual([401, ErrorCode.UNAUTHORIZED]);
    const bad = await post(server, { topic, data: 1 }, "x.y.z");
    expect([bad.status, (await bad.json()).error.code]).toEqual([401, ErrorCode.UNAUTHORIZED]);
    const expired = await post(server, { topic, data: 1 }, await hs256({ expIn: -60, tg: ALL_TG }));
    expect([expired.status, (await expired.json()).error.code]).toEqual([401, ErrorCode.TOKEN_EXPIRED]);

    const narrow = await hs256({ sub: "bob", tg: { publish: [`${topic}.mine`] } });
    const forbidden = await post(server, { topic, data: "nope" }, narrow);
    expect([forbidden.status, (await forbidden.json()).error.code]).toEqual([403, ErrorCode.FORBIDDEN]);
    const batch = await post(server, [{ topic, data: "nope" }, { topic: `${topic}.mine`, data: "yes" }], narrow);
    const { results } = await batch.json();
    expect(results[0].error.code).toBe(ErrorCode.FORBIDDEN);
    expect(results[1]).toEqual({ seq: 1 });

    const ok = await post(server, { topic, data: { via: "http" } }, await hs256({ sub: "producer", tg: { publish: [topic] } }));
    expect(ok.status).toBe(200);
    const got = await watch.collect(2, (f) => f.t === "msg");
    expect(got.map((f) => [f.topic, f.data])).toEqual([
      [`${topic}.mine`, "yes"],
      [topic, { via: "http" }],
    ]);
    expect((await call(watch, { t: "ping" })).t).toBe("pong");
    expect(watch.frames.filter((f) => f.t === "msg")).toEqual([]);
  });

  test("POST /api/publish obeys the publish rate limit (was a bug)", async () => {
    await using server = await startServer({ auth: hsAuth(), limits: { publishBurst: 2, publishPerSecond: 1 } });
    const token = await hs256({ sub: "producer", tg: { publish: [">"] } });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await post(server, { topic: "flood.x", data: i }, token)).status);
    const batch = await (await post(server, Array.from({ length: 50 }, (_, i) => ({ topic: "flood.x", data: i })), token)).json();
    const batchOk = (batch.results as { seq?: number }[]).filter((r) => r.seq !== undefined).length;
    // Expected: like a socket, about publishBurst publications, then RATE_LIMITED (429).
    expect({ ok: statuses.filter((x) => x === 200).length + batchOk, limited: statuses.includes(429) }).toEqual({ ok: 2, limited: true });
  });

  test("GET /sse without a token answers 401 UNAUTHORIZED", async () => {
    await using server = await startServer({ auth: hsAuth() });
    const none = await fetch(http(server, `/sse?topic=${uniqueTopic("sse")}`));
    const body = await none.json();
    expect(body.error.code).toBe(ErrorCode.UNAUTHORIZED);
    expect(none.status).toBe(401);
    expect(server.stats().connections).toBe(0);
  });

  test("GET /sse: bad token 401, no grant 403 FORBIDDEN, grant (header or ?token=) streams", async () => {
    await using server = await startServer({ auth: hsAuth() });
    const topic = uniqueTopic("sse");
    const bad = await fetch(http(server, `/sse?topic=${topic}&token=garbage`));
    expect([bad.status, (await bad.json()).error.code]).toEqual([401, ErrorCode.UNAUTHORIZED]);
    const narrow = await hs256({ sub: "bob", tg: { subscribe: ["other.>"] } });
    const forbidden = await fetch(http(server, `/sse?topic=${topic}`), { headers: { authorization: `Bearer ${narrow}` } });
    expect([forbidden.status, (await forbidden.json()).error.code]).toEqual([403, ErrorCode.FORBIDDEN]);
    // One allowed and one refused topic: the whole stream is refused.
    const mixed = await fetch(http(server, `/sse?topic=other.x&topic=${topic}&token=${narrow}`));
    expect([mixed.status, (await mixed.json()).error.code]).toEqual([403, ErrorCode.FORBIDDEN]);
    const wide = await fetch(http(server, `/sse?topic=>&token=${narrow}`));
    expect([wide.status, (await wide.json()).error.code]).toEqual([403, ErrorCode.FORBIDDEN]);
    expect(server.stats().connections).toBe(0);

    const reader = await hs256({ sub: "reader", tg: { subscribe: [topic] } });
    {
      await using s = await openSse(http(server, `/sse?topic=${topic}`), { authorization: `Bearer ${reader}` });
      expect(s.status).toBe(200);
      await s.next((e) => e.event === "ack");
      server.publish(topic, "via header");
      expect((await s.next((e) => e.event === "msg")).data.data).toBe("via header");
    }
    {
      await using s = await openSse(http(server, `/sse?topic=${topic}&token=${reader}`));
      expect(s.status).toBe(200);
      await s.next((e) => e.event === "ack");
      server.publish(topic, "via query");
      expect((await s.next((e) => e.event === "msg")).data.data).toBe("via query");
    }
  });

  test("an SSE stream ends with TOKEN_EXPIRED and close 4403 when its token expires", async () => {
    await using server = await startServer({ auth: hsAuth({ clockToleranceSec: 0 }) });
    const topic = uniqueTopic("sse-exp");
    const token = await hs256({ sub: "reader", expIn: 2, tg: { subscribe: [topic] } });
    await using s = await openSse(http(server, `/sse?topic=${topic}`), { authorization: `Bearer ${token}` });
    await s.next((e) => e.event === "ack");
    expect((await s.next((e) => e.event === "error", 4000)).data.code).toBe(ErrorCode.TOKEN_EXPIRED);
    expect((await s.next((e) => e.event === "close")).data.code).toBe(CloseCode.TOKEN_EXPIRED);
    await waitFor(() => server.stats().connections === 0);
    expect(server.stats().security!.expired).toBe(1);
  });

  test("operator routes: /health stays open; /stats, /metrics, /api/topics need a token with tg.admin", async () => {
    await using server = await startServer({ auth: hsAuth() });
    expect((await fetch(http(server, "/health"))).status).toBe(200);
    const user = await hs256({ sub: "user", tg: { subscribe: [">"], publish: [">"] } });
    const admin = await hs256({ sub: "ops", tg: { admin: true } });
    for (const path of ["/stats", "/metrics", "/api/topics"]) {
      const none = await fetch(http(server, path));
      expect({ path, status: none.status, code: (await none.json()).error.code }).toEqual({ path, status: 401, code: ErrorCode.UNAUTHORIZED });
      const forged = await fetch(http(server, path), { headers: { authorization: `Bearer ${user.slice(0, -4)}AAAA` } });
      expect({ path, status: forged.status }).toEqual({ path, status: 401 });
      const nonAdmin = await fetch(http(server, path), { headers: { authorization: `Bearer ${user}` } });
      expect({ path, status: nonAdmin.status, code: (await nonAdmin.json()).error.code }).toEqual({ path, status: 403, code: ErrorCode.FORBIDDEN });
      const ok = await fetch(http(server, path), { headers: { authorization: `Bearer ${admin}` } });
      expect({ path, status: ok.status }).toEqual({ path, status: 200 });
      await ok.arrayBuffer();
    }
    const stats = await (await fetch(http(server, "/stats"), { headers: { authorization: `Bearer ${admin}` } })).json();
    expect(stats.security).toBeDefined();
  });

  test("with auth off, /stats stays reachable without a token", async () => {
    await using server = await startServer();
    const res = await fetch(http(server, "/stats"));
    expect(res.status).toBe(200);
    expect(typeof (await res.json()).connections).toBe("number");
  });

  test("a stats frame shows the whole server only to admins when auth is on", async () => {
    await using server = await startServer({ auth: hsAuth() });
    server.publish("secret.topic", 1);
    await using user = await connect(server.wsUrl, { query: `token=${await hs256({ sub: "u", tg: { subscribe: ["x"] } })}` });
    const mine = (await call(user, { t: "stats" })).data;
    expect(mine.session.who).toBe("u");
    expect(mine.security).toBeUndefined();
    expect(mine.topTopics).toBeUndefined();
    expect(JSON.stringify(mine)).not.toContain("secret.topic");
    await using ops = await connect(server.wsUrl, { query: `token=${await hs256({ sub: "ops", tg: { admin: true } })}` });
    expect((await call(ops, { t: "stats" })).data.security).toBeDefined();
  });
});
