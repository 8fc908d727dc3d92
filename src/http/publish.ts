/**
 * `POST /api/publish`: publishing for producers that are not WebSocket
 * clients (and the SDK's SSE mode). One publication `{topic, data, key?}` or
 * an array of them, as JSON or msgpack. The publication goes through the
 * gate like a socket's `pub`: grants, the publish allowance (the caller's,
 * or the topic policy's own `publishRate`), the topic's policy.
 * @module
 */
import { z } from "zod";
import type { TickgateServerImpl as TickgateServer } from "../core/server.ts";
import type { Caller } from "../core/caller.ts";
import { wireError } from "../core/replies.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { httpError, json } from "./errors.ts";
import { readPost } from "./body.ts";

export const MAX_BATCH = 1000;

const One = z.strictObject({
  topic: z.string().min(1).max(256),
  key: z.string().min(1).max(128).optional(),
  tags: z.array(z.string().min(1).max(64)).max(32).optional(),
  // Optional: a publication without data publishes null.
  data: z.unknown().optional(),
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
  const caller = server.gate.httpCaller(auth, remoteAddress);
  if (!Array.isArray(parsed.data)) {
    const r = await publishOne(server, caller, parsed.data);
    return "seq" in r ? json(200, r) : httpError(r.error.code, r.error.message, r.error.details);
  }
  const results = [];
  for (const p of parsed.data) results.push(await publishOne(server, caller, p));
  return json(200, { results });
}

type Result = { seq: number } | { error: { code: string; message: string; details?: Record<string, unknown> } };

async function publishOne(server: TickgateServer, caller: Caller, p: z.infer<typeof One>): Promise<Result> {
  try {
    return { seq: await server.gate.publish(caller, p.topic, { value: p.data ?? null }, p.key, p.tags) };
  } catch (e) {
    return { error: wireError(e) };
  }
}
