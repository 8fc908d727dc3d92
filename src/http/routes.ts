/**
 * HTTP routes beside the WebSocket path: health, stats and the live demo
 * page. Uses only Fetch API types, so it runs under any transport.
 * @module
 */
import type { TickgateServer } from "../core/server.ts";
import { DEMO_PAGE } from "./demo-page.ts";

export function httpRoutes(req: Request, server: TickgateServer): Response {
  const url = new URL(req.url);
  if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: { code: "METHOD_NOT_ALLOWED", message: `${req.method} is not allowed on ${url.pathname}` } });
  switch (url.pathname) {
    case "/health":
      return server.closing ? json(503, { status: "shutting_down" }) : json(200, { status: "ok" });
    case "/stats": {
      const top = Number(url.searchParams.get("top") ?? 50);
      return json(200, server.stats(Number.isFinite(top) ? Math.max(0, Math.min(top, 10_000)) : 50));
    }
    case "/":
      return new Response(DEMO_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    default:
      return json(404, { error: { code: "NOT_FOUND", message: `no route for ${url.pathname}` } });
  }
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status, headers: { "cache-control": "no-store" } });
}
