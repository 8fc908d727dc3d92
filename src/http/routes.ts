/**
 * HTTP routes beside the WebSocket path: liveness, readiness, stats,
 * metrics, the topic list, SSE, HTTP publish and HTTP calls. Uses
 * only Fetch API types, so it runs under any transport. Every route is in
 * {@link ROUTES}; `docs/http-api.md` documents each one.
 * @module
 */
import type { TickgateServerImpl as TickgateServer } from "../core/server.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { httpError, json } from "./errors.ts";
import { REQUEST_PREFIX, handleCommand, handleRequest } from "./calls.ts";
import { handlePublish } from "./publish.ts";
import { handleSse } from "./sse.ts";

type Handler = (req: Request, server: TickgateServer, url: URL, remoteAddress: string) => Response | Promise<Response>;

/** Path → method → handler. A known path with another method is a 405 naming the allowed ones. */
export const ROUTES: Record<string, Record<string, Handler>> = {
  // Alive through the drain period (a liveness probe failing then would restart a pod that is leaving anyway).
  "/health": { GET: (_req, server) => (server.refusing ? json(503, { status: "shutting_down" }) : json(200, { status: "ok" })) },
  "/ready": { GET: (_req, server) => ready(server) },
  "/stats": {
    GET: adminOnly((_req, server, url) => {
      const top = Number(url.searchParams.get("top") ?? 50);
      return json(200, server.stats(Number.isFinite(top) ? Math.max(0, Math.min(top, 10_000)) : 50));
    }),
  },
  // prom-client loads on the first scrape: a server nobody scrapes does not carry it (~6 MiB of resident memory).
  "/metrics": { GET: adminOnly(async (_req, server) => (await import("./metrics.ts")).handleMetrics(server)) },
  "/api/topics": { GET: adminOnly((_req, server, url) => listTopics(server, url)) },
  "/api/publish": { POST: (req, server, _url, ip) => handlePublish(req, server, ip) },
  "/api/command": { POST: (req, server, _url, ip) => handleCommand(req, server, ip) },
  "/sse": { GET: (req, server, _url, remoteAddress) => handleSse(req, server, remoteAddress) },
};

/**
 * Operator routes: open while auth is off; with auth on they need a bearer
 * token whose `tg.admin` is true (Prometheus can send one).
 */
function adminOnly(h: Handler): Handler {
  return async (req, server, url, ip) => {
    if (!server.options.auth.required) return h(req, server, url, ip);
    const auth = await server.host.authorize(req, ip);
    if (auth instanceof Response) return auth;
    if (!auth.grants.admin) {
      server.admission.counters.forbidden++;
      server.log.warn({ event: "forbidden", via: "http", who: auth.identity?.sub ?? "anonymous", ip, action: "read", target: url.pathname }, "permission denied");
      return httpError(ErrorCode.FORBIDDEN, "this route needs a token with tg.admin");
    }
    return h(req, server, url, ip);
  };
}

export function httpRoutes(req: Request, server: TickgateServer, remoteAddress: string): Response | Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname.startsWith(REQUEST_PREFIX)) {
    if (req.method === "POST") return handleRequest(req, server, url, remoteAddress);
    const res = httpError("METHOD_NOT_ALLOWED", `${req.method} is not allowed on ${url.pathname}`);
    res.headers.set("allow", "POST");
    return res;
  }
  // hasOwn: a method named like an Object.prototype member must not find it.
  const methods = Object.hasOwn(ROUTES, url.pathname) ? ROUTES[url.pathname]! : undefined;
  if (!methods) return httpError("NOT_FOUND", `no route for ${url.pathname}`);
  if (Object.hasOwn(methods, req.method)) return methods[req.method]!(req, server, url, remoteAddress);
  const res = httpError("METHOD_NOT_ALLOWED", `${req.method} is not allowed on ${url.pathname}`);
  res.headers.set("allow", Object.keys(methods).join(", "));
  return res;
}

/**
 * Readiness, unlike liveness (`/health`), says whether to send traffic
 * here: a server that is shutting down is alive but not ready.
 */
function ready(server: TickgateServer): Response {
  if (server.closing) return json(503, { status: "shutting_down" });
  try {
    void server.port; // throws until listen() has bound
  } catch {
    return json(503, { status: "starting" });
  }
  return json(200, { status: "ready" });
}

export const TOPICS_DEFAULT_LIMIT = 1000;
export const TOPICS_MAX_LIMIT = 10_000;

export interface TopicEntry {
  topic: string;
  /** Subscribers to this exact topic (pattern subscribers are counted under `patterns`). */
  subscribers: number;
  published: number;
  seq: number;
  /** Retained values held (one per key). */
  retained: number;
}

export interface PatternEntry {
  pattern: string;
  subscribers: number;
  /** Publications routed through this pattern. */
  published: number;
}

/**
 * `GET /api/topics[?prefix=][&limit=]`: every topic that was published to or
 * has exact subscribers, and every subscribed pattern, sorted by name.
 */
function listTopics(server: TickgateServer, url: URL): Response {
  const prefix = url.searchParams.get("prefix") ?? "";
  const rawLimit = url.searchParams.get("limit");
  const limit = rawLimit === null ? TOPICS_DEFAULT_LIMIT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > TOPICS_MAX_LIMIT) {
    return httpError(ErrorCode.INVALID_FRAME, `limit must be an integer from 1 to ${TOPICS_MAX_LIMIT}, got '${String(rawLimit).slice(0, 32)}'`);
  }
  const { broker } = server;
  // Filtered subscriptions are counted under their topic or pattern: a
  // filter's spelling is the subscriber's business, not an operator listing.
  const exactSubs = new Map<string, number>();
  const patternMap = new Map<string, PatternEntry>();
  for (const ch of broker.index.values()) {
    if (!ch.base.startsWith(prefix)) continue;
    if (!ch.isPattern) exactSubs.set(ch.base, (exactSubs.get(ch.base) ?? 0) + ch.members.size);
    else {
      const p = patternMap.get(ch.base) ?? { pattern: ch.base, subscribers: 0, published: 0 };
      p.subscribers += ch.members.size;
      p.published = Math.max(p.published, ch.published);
      patternMap.set(ch.base, p);
    }
  }
  const topics = new Map<string, TopicEntry>();
  for (const t of broker.topics.values()) {
    if (!t.name.startsWith(prefix)) continue;
    topics.set(t.name, { topic: t.name, subscribers: exactSubs.get(t.name) ?? 0, published: t.published, seq: t.seq, retained: t.retained?.size ?? 0 });
  }
  // Subscribed to, never published: no Topic yet.
  for (const [name, n] of exactSubs) if (!topics.has(name)) topics.set(name, { topic: name, subscribers: n, published: 0, seq: 0, retained: 0 });
  const patterns = [...patternMap.values()];
  const byName = <T>(name: (x: T) => string) => (a: T, b: T) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);
  const topicList = [...topics.values()].sort(byName((t) => t.topic));
  patterns.sort(byName((p) => p.pattern));
  return json(200, {
    topics: topicList.slice(0, limit),
    patterns: patterns.slice(0, limit),
    truncated: topicList.length > limit || patterns.length > limit,
  });
}
