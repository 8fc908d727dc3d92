/**
 * What every POST route does first: Origin and content type (so a page on
 * another site cannot post through a visitor's browser), the bearer token,
 * a size-limited body, and decoding it as JSON or msgpack.
 * @module
 */
import type { RequestAuth } from "../core/caller.ts";
import type { TickgateServerImpl as TickgateServer } from "../core/server.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { unpackr } from "../protocol/codec.ts";
import { valueProblem } from "../protocol/value-check.ts";
import { httpError } from "./errors.ts";

const TYPES = new Set(["application/json", "application/msgpack", "application/x-msgpack"]);

async function readBody(req: Request, limit: number): Promise<Uint8Array | Response> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > limit) return httpError(ErrorCode.PAYLOAD_TOO_LARGE, `body is ${declared} bytes; the limit is ${limit}`);
  const buf = new Uint8Array(await req.arrayBuffer());
  if (buf.length > limit) return httpError(ErrorCode.PAYLOAD_TOO_LARGE, `body is ${buf.length} bytes; the limit is ${limit}`);
  return buf;
}

export async function readPost(req: Request, server: TickgateServer, remoteAddress: string): Promise<{ auth: RequestAuth; value: unknown } | Response> {
  if (!server.admission.originAllowed(req.headers)) {
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
