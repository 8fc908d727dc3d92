/**
 * HTTP routes beside the WebSocket path: health, stats, SSE, HTTP publish
 * and the live demo page. Uses only Fetch API types, so it runs under any
 * transport.
 * @module
 */
import type { TickgateServer } from "../core/server.ts";
import { DEMO_PAGE } from "./demo-page.ts";
import { httpError, json } from "./errors.ts";
import { handlePublish } from "./publish.ts";
import { handleSse } from "./sse.ts";

export function httpRoutes(req: Request, server: TickgateServer, remoteAddress: string): Response | Promise<Response> {
  const url = new URL(req.url);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case "GET /health":
      return server.closing ? json(503, { status: "shutting_down" }) : json(200, { status: "ok" });
    case "GET /stats": {
      const top = Number(url.searchParams.get("top") ?? 50);
      return json(200, server.stats(Number.isFinite(top) ? Math.max(0, Math.min(top, 10_000)) : 50));
    }
    case "GET /sse":
      return handleSse(req, server, remoteAddress);
    case "POST /api/publish":
      return handlePublish(req, server);
    case "GET /":
      return new Response(DEMO_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  if (["/health", "/stats", "/sse", "/api/publish", "/"].includes(url.pathname)) {
    return httpError("METHOD_NOT_ALLOWED", `${req.method} is not allowed on ${url.pathname}`);
  }
  return httpError("NOT_FOUND", `no route for ${url.pathname}`);
}
