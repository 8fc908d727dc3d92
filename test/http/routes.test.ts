import { describe, expect, test } from "bun:test";
import { connect, subscribe } from "../helpers/client.ts";
import { startServer } from "../helpers/server.ts";

describe("HTTP routes", () => {
  test("GET /health and /stats", async () => {
    await using server = await startServer();
    const base = server.wsUrl.replace("ws:", "http:").replace("/ws", "");
    await using c = await connect(server.wsUrl);
    await subscribe(c, "alpha.beta");
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: "ok" });
    const stats = await (await fetch(`${base}/stats`)).json();
    expect(stats.connections).toBe(1);
    expect(stats.sessions.api).toBe(1);
    expect(stats.topTopics).toEqual([{ topic: "alpha.beta", subscribers: 1, published: 0, dropped: 0, conflated: 0 }]);
    expect(stats.memory.rss).toBeGreaterThan(0);
    expect(stats.server.uptimeSec).toBeGreaterThanOrEqual(0);
  });

  test("unknown routes and methods get JSON errors", async () => {
    await using server = await startServer();
    const base = server.wsUrl.replace("ws:", "http:").replace("/ws", "");
    const nf = await fetch(`${base}/nope`);
    expect(nf.status).toBe(404);
    expect((await nf.json()).error.code).toBe("NOT_FOUND");
    const na = await fetch(`${base}/stats`, { method: "DELETE" });
    expect(na.status).toBe(405);
  });

  test("a library server serves no demo page: the dashboard is the CLI's to install", async () => {
    await using server = await startServer();
    for (const path of ["/", "/dashboard.js"]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe("NOT_FOUND");
    }
  });
});
