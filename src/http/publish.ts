/**
 * `POST /api/publish`: publishing for producers that are not WebSocket
 * clients (and the SDK's SSE mode). One publication `{topic, data, key?}` or
 * an array of them, as JSON or msgpack. Same checks as a socket publish.
 * @module
 */
import { z } from "zod";
import type { TickgateServer } from "../core/server.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { mayPublish } from "../core/auth/grants.ts";
import type { RequestAuth } from "../core/server.ts";
import { topicError } from "../protocol/topic.ts";
import { httpError, json } from "./errors.ts";
import { readPost } from "./post-body.ts";

export const MAX_BATCH = 1000;

const One = z.strictObject({
  topic: z.string().min(1).max(256),
  key: z.string().min(1).max(128).optional(),
  tags: z.array(z.string().min(1).max(64)).max(32).optional(),
  data: z.unknown(),
});
const Body = z.union([One, z.array(One).min(1).max(MAX_BATCH)]);

export async function handlePublish(req: Request, server: TickgateServer, remoteAddress = ""): Promise<Response> {
  const post = await readPost(req, server, remoteAddress);
  if (post instanceof Response) return post;
  const { auth, value } = post;
  const parsed = Body.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return httpError(ErrorCode.INVALID_FRAME, `${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  if (!Array.isArray(parsed.data)) {
    const r = await publishOne(server, auth, remoteAddress, parsed.data);
    return "seq" in r ? json(200, r) : httpError(r.error.code, r.error.message, r.error.details);
  }
  const results = [];
  for (const p of parsed.data) results.push(await publishOne(server, auth, remoteAddress, p));
  return json(200, { results });
}

type Result = { seq: number } | { error: { code: string; message: string; details?: Record<string, unknown> } };

async function publishOne(server: TickgateServer, auth: RequestAuth, ip: string, p: z.infer<typeof One>): Promise<Result> {
  const who = auth.identity?.sub;
  if (topicError(p.topic, false) === null && !mayPublish(auth.grants, p.topic)) {
    server.auditRequest(who, ip, "publish", p.topic);
    return { error: { code: ErrorCode.FORBIDDEN, message: `not allowed to publish to '${p.topic}'` } };
  }
  if (!server.takeHttpPublish(who, ip)) {
    return { error: { code: ErrorCode.RATE_LIMITED, message: `publishing too fast on '${p.topic}'` } };
  }
  try {
    const seq = await server.broker.publish(p.topic, { value: p.data ?? null }, p.key, "client", p.tags);
    return { seq };
  } catch (e) {
    const err = e as { code?: string; message: string; details?: Record<string, unknown> };
    return { error: { code: err.code ?? ErrorCode.INTERNAL, message: err.message, ...(err.details ? { details: err.details } : {}) } };
  }
}
