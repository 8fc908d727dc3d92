/**
 * Request bodies: {@link readBody} is the one reader every route with a
 * body uses (a stream with a hard cap); {@link readPost} is what every POST
 * route does first: Origin and content type (so a page on another site
 * cannot post through a visitor's browser), the bearer token, the capped
 * body, and decoding it as JSON or msgpack. Memory per request: at most the
 * cap (`maxFrameBytes`), whatever the client declares or sends.
 * @module
 */
import type { RequestAuth } from "../core/caller.ts";
import type { TickgateServerImpl as TickgateServer } from "../core/server.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { unpackr } from "../protocol/codec.ts";
import { valueProblem } from "../protocol/value-check.ts";
import { httpError } from "./errors.ts";

const TYPES = new Set(["application/json", "application/msgpack", "application/x-msgpack"]);

/**
 * Reads a request body through its stream, never holding more than `limit`
 * bytes: a declared length over the limit is refused before any byte is
 * read, and an undeclared (chunked) body is refused as soon as it passes the
 * limit, with the rest left unread (see below). Only
 * the Fetch API's ReadableStream reader is used, so any runtime (or an
 * adapter bridging to one) can call it.
 */
export async function readBody(req: Request, limit: number): Promise<Uint8Array | Response> {
  const header = req.headers.get("content-length");
  const declared = header === null ? NaN : Number(header);
  if (declared > limit) return tooLarge(`body is ${declared} bytes; the limit is ${limit}`);
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        // Not cancelled, and the connection not closed: either makes Bun
        // drop the connection while the client is still sending, and the
        // reset can destroy the 413 before the client reads it. Left
        // unread, the rest is discarded by the runtime as it arrives (never
        // held), and the client gets its answer while it is still sending.
        return tooLarge(`body is over ${limit} bytes, the limit`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function tooLarge(message: string): Response {
  return httpError(ErrorCode.PAYLOAD_TOO_LARGE, message);
}

export async function readPost(req: Request, server: TickgateServer, remoteAddress: string): Promise<{ auth: RequestAuth; value: unknown } | Response> {
  if (server.refusing) return httpError(ErrorCode.SHUTTING_DOWN, "server is shutting down");
  if (!server.admission.originAllowed(req.headers)) {
    server.admission.counters.refusedOrigin++;
    server.log.warn({ event: "limit", code: ErrorCode.ORIGIN_NOT_ALLOWED, via: "http", ip: remoteAddress, origin: (req.headers.get("origin") ?? "").slice(0, 100) }, "origin not allowed");
    return httpError(ErrorCode.ORIGIN_NOT_ALLOWED, `origin '${(req.headers.get("origin") ?? "").slice(0, 100)}' is not allowed`);
  }
  const raw = req.headers.get("content-type");
  if (raw === null) return httpError(ErrorCode.UNSUPPORTED_ENCODING, "set content-type: application/json or application/msgpack");
  const type = raw.split(";")[0]!.trim().toLowerCase();
  if (!TYPES.has(type)) return httpError(ErrorCode.UNSUPPORTED_ENCODING, `content-type '${type}' is not supported; use application/json or application/msgpack`);
  const auth = await server.host.authorize(req, remoteAddress);
  if (auth instanceof Response) return auth;
  const body = await readBody(req, server.options.maxFrameBytes);
  if (body instanceof Response) return body;
  const json = type === "application/json";
  let value: unknown;
  try {
    value = json ? JSON.parse(new TextDecoder().decode(body)) : unpackr.unpack(body);
  } catch (e) {
    return httpError(ErrorCode.BAD_FRAME, `body is not valid ${json ? "JSON" : "msgpack"}: ${(e as Error).message.slice(0, 120).toWellFormed()}`);
  }
  const problem = valueProblem(value);
  if (problem) return httpError(ErrorCode.BAD_PAYLOAD, `body cannot be carried: ${problem}`);
  return { auth, value };
}
