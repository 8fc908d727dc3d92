/**
 * How the server answers: frames to a connection (`send`), error frames
 * that spend the peer's error budget when the code says so (`fail`), and
 * the one builder of JSON error responses for HTTP answers and refused
 * upgrades. Runs once per reply; nothing here is on the fan-out path.
 * @module
 */
import { CloseCode, ErrorCode, spendsBudget, statusFor } from "../protocol/codes.ts";
import { encodeFrame } from "../protocol/codec.ts";
import type { FrameId, ServerFrame } from "../protocol/frames.ts";
import { TickgateError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Session } from "./session.ts";

/** A JSON answer that no cache keeps. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { "cache-control": "no-store", ...headers } });
}

/**
 * The error answer of every HTTP route and refused upgrade:
 * `{ "error": { "code", "message", "details"? } }`, with the code's status
 * from `protocol/codes.ts` unless `status` overrides it (a code with two,
 * like TOO_MANY_CONNECTIONS: 429 per address, 503 in total).
 */
export function errorResponse(code: string, message: string, details?: Record<string, unknown>, status = statusFor(code)): Response {
  return jsonResponse(status, { error: details ? { code, message, details } : { code, message } });
}

/** What a thrown value becomes on the wire: its own code, or INTERNAL. */
export function wireError(e: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  if (e instanceof TickgateError) return e.details ? { code: e.code, message: e.message, details: e.details } : { code: e.code, message: e.message };
  return { code: ErrorCode.INTERNAL, message: "internal error; the frame had no effect" };
}

export class Replies {
  constructor(readonly log: Logger) {}

  /** Encodes and sends a frame in the session's encoding. */
  send(s: Session, frame: ServerFrame): void {
    let bytes: Uint8Array | string;
    try {
      bytes = encodeFrame(frame, s.json);
    } catch (e) {
      // e.g. a request handler returned a value with no msgpack/JSON form
      this.log.error({ event: "encode_failed", session: s.id, type: frame.t, err: String(e) }, "frame could not be encoded");
      const id = "id" in frame ? frame.id : undefined;
      const err: ServerFrame = { t: "error", code: ErrorCode.INTERNAL, message: "reply could not be encoded" };
      if (id !== undefined) err.id = id;
      bytes = encodeFrame(err, s.json);
    }
    s.send(bytes);
  }

  /** Sends `ack` when the frame asked for one (had an id). */
  ack(s: Session, id: FrameId | undefined): void {
    if (id !== undefined) this.send(s, { t: "ack", id });
  }

  /** The error frame for anything thrown while handling a frame. */
  failWith(s: Session, e: unknown, id: FrameId | undefined): void {
    if (!(e instanceof TickgateError)) this.log.error({ event: "internal_error", session: s.id, err: String((e as Error)?.stack ?? e) }, "frame handling failed");
    const w = wireError(e);
    this.fail(s, w.code, w.message, id, w.details);
  }

  /** Sends an error frame; a peer that exhausts its error budget is closed as abusive. */
  fail(s: Session, code: string, message: string, id?: FrameId, details?: Record<string, unknown>): void {
    if (s.closed) return;
    // Messages quote client input cut to length; never split a surrogate pair on the wire.
    const frame: ServerFrame = { t: "error", code, message: message.toWellFormed() };
    if (id !== undefined) frame.id = id;
    if (details) frame.details = details;
    this.send(s, frame);
    this.spend(s, code);
  }

  /** Spends the peer's error budget for `code`, if the code says so; closes the connection when it is spent. */
  spend(s: Session, code: string): void {
    // Only the peer's own mistakes spend its budget; a failing handler or a
    // shutdown must never get a well-behaved client closed as abusive.
    if (spendsBudget(code) && !s.errors.take()) {
      this.log.warn({ event: "abuse", session: s.id, ip: s.remoteAddress, code }, "too many bad frames; closing");
      s.socket?.close(CloseCode.TOO_MANY_ERRORS, "too many bad frames");
    }
  }
}
