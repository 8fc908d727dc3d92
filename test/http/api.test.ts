/**
 * The HTTP API beside the socket: topic listing, readiness vs liveness, and
 * the JSON error body every route answers with. Real server, real sockets.
 */
import { describe, expect, test } from "bun:test";
import { httpRoutes } from "../../src/http/routes.ts";
import { connect, subscribe } from "../helpers/client.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const base = (server: TestServer) => server.wsUrl.replace("ws:", "http:").replace("/ws", "");

describe("GET /api/topics", () => {
  test("lists exact topics and patterns with subscriber and published counts", async () => {
    await using server = await startServer({ policies: [{ match: "prices.>", retain: true }] });
    await using a = await connect(server.wsUrl);
    await using b = await connect(server.wsUrl);
    await subscribe(a, "prices.BTC");
    await subscribe(b, "prices.BTC");
    await subscribe(b, "prices.*");
    await subscribe(a, "news.quiet"); // subscribed, never published
    server.publish("prices.BTC", { bid: 1 }, { key: "BTC" });
    server.publish("prices.BTC", { bid: 2 }, { key: "BTC" });
    server.publish("prices.ETH", { bid: 3 }, { key: "ETH" });

    const res = await fetch(`${base(server)}/api/topics`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      topics: [
        { topic: "news.quiet", subscribers: 1, published: 0, seq: 0, retained: 0 },
        { topic: "prices.BTC", subscribers: 2, published: 2, seq: 2, retained: 1 },
        { topic: "prices.ETH", subscribers: 0, published: 1, seq: 1, retained: 1 },
      ],
      patterns: [{ pattern: "prices.*", subscribers: 1, published: 3 }],
      truncated: false,
    });
  });

  test("?prefix= filters and ?limit= truncates", async () => {
    await using server = await startServer();
    for (const t of ["a.one", "a.two", "a.three", "b.one"]) server.publish(t, 1);
    const onlyA = await (await fetch(`${base(server)}/api/topics?prefix=a.`)).json();
    expect(onlyA.topics.map((t: { topic: string }) => t.topic)).toEqual(["a.one", "a.three", "a.two"]);
    const two = await (await fetch(`${base(server)}/api/topics?limit=2`)).json();
    expect(two.topics).toHaveLength(2);
    expect(two.truncated).toBe(true);
    const none = await (await fetch(`${base(server)}/api/topics?prefix=zzz`)).json();
    expect(none).toEqual({ topics: [], patterns: [], truncated: false });
  });

  test("a bad limit is a 400 with the JSON error body", async () => {
    await using server = await startServer();
    for (const bad of ["0", "-1", "1.5", "abc", "100000"]) {
      const res = await fetch(`${base(server)}/api/topics?limit=${bad}`);
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.error.code).toBe("INVALID_FRAME");
      expect(body.error.message).toContain("limit");
    }
  });
});

describe("GET /ready and GET /health", () => {
  test("a listening server is ready and alive", async () => {
    await using server = await startServer();
    const ready = await fetch(`${base(server)}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    expect(await (await fetch(`${base(server)}/health`)).json()).toEqual({ status: "ok" });
  });

  test("a server shutting down is not ready (503)", async () => {
    const server = await startServer();
    const closing = server.close();
    // The listener stops at once, so ask the route table directly, as the transport would.
    const res = await httpRoutes(new Request("http://127.0.0.1/ready"), server, "127.0.0.1");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "shutting_down" });
    expect((await httpRoutes(new Request("http://127.0.0.1/health"), server, "127.0.0.1")).status).toBe(503);
    await closing;
  });
});

describe("errors", () => {
  test("an unknown route is a 404 with the JSON error body", async () => {
    await using server = await startServer();
    const res = await fetch(`${base(server)}/api/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: "no route for /api/nope" } });
  });

  test("a wrong method is a 405 naming the allowed ones", async () => {
    await using server = await startServer();
    for (const [method, path, allow] of [
      ["POST", "/api/topics", "GET"],
      ["DELETE", "/metrics", "GET"],
      ["PUT", "/ready", "GET"],
      ["GET", "/api/publish", "POST"],
    ] as const) {
      const res = await fetch(`${base(server)}${path}`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe(allow);
      expect(await res.json()).toEqual({ error: { code: "METHOD_NOT_ALLOWED", message: `${method} is not allowed on ${path}` } });
    }
  });
});
