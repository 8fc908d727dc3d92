/**
 * Request handlers and device commands over HTTP, for clients without a
 * WebSocket (the SDK's SSE mode): `POST /api/request/<method>` with
 * `{data}` answers like a `req` frame, `POST /api/command` with
 * `{device, name, data?, ttlMs?}` like a `command` frame. Both go through
 * the gate, as the frames do.
 * @module
 */
import { z } from "zod";
import { wireError } from "../core/replies.ts";
import type { TickgateServerImpl as TickgateServer } from "../core/server.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { DeviceId } from "../protocol/frames.ts";
import { httpError, json } from "./errors.ts";
import { readPost } from "./body.ts";

export const REQUEST_PREFIX = "/api/request/";

const RequestBody = z.strictObject({ data: z.unknown().optional() });
const CommandBody = z.strictObject({
  device: DeviceId,
  name: z.string().min(1).max(128),
  data: z.unknown().optional(),
  ttlMs: z.number().int().positive().max(86_400_000).optional(),
});

function invalid(e: z.ZodError): Response {
  const issue = e.issues[0]!;
  return httpError(ErrorCode.INVALID_FRAME, `${issue.path.join(".") || "body"}: ${issue.message}`);
}

/** A refusal or failure from the gate, a handler or the device layer, with its wire code. */
function failed(e: unknown): Response {
  const w = wireError(e);
  return httpError(w.code, w.message, w.details);
}

export async function handleRequest(req: Request, server: TickgateServer, url: URL, ip: string): Promise<Response> {
  let method: string;
  try {
    method = decodeURIComponent(url.pathname.slice(REQUEST_PREFIX.length));
  } catch {
    return httpError(ErrorCode.INVALID_FRAME, "the method name in the path is not valid percent-encoding");
  }
  if (method.length === 0 || method.length > 128) return httpError(ErrorCode.INVALID_FRAME, "name the method: POST /api/request/<method>");
  const post = await readPost(req, server, ip);
  if (post instanceof Response) return post;
  const body = RequestBody.safeParse(post.value);
  if (!body.success) return invalid(body.error);
  try {
    const data = await server.gate.request(server.gate.httpCaller(post.auth, ip), method, body.data.data);
    return json(200, { data: data ?? null });
  } catch (e) {
    return failed(e);
  }
}

export async function handleCommand(req: Request, server: TickgateServer, ip: string): Promise<Response> {
  const post = await readPost(req, server, ip);
  if (post instanceof Response) return post;
  const body = CommandBody.safeParse(post.value);
  if (!body.success) return invalid(body.error);
  const c = body.data;
  try {
    const data = await server.gate.command(server.gate.httpCaller(post.auth, ip), c.device, c.name, c.data, c.ttlMs);
    return json(200, { acked: true, data });
  } catch (e) {
    return failed(e);
  }
}
