/**
 * HTTP statuses for wire error codes, in one place, and the JSON error body
 * every HTTP route answers with: `{ "error": { "code", "message" } }`.
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";

const STATUS: Partial<Record<string, number>> = {
  [ErrorCode.BAD_FRAME]: 400,
  [ErrorCode.INVALID_FRAME]: 400,
  [ErrorCode.BAD_TOPIC]: 400,
  [ErrorCode.BAD_PAYLOAD]: 400,
  [ErrorCode.UNSUPPORTED_ENCODING]: 415,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.TOO_MANY_TOPICS]: 429,
  [ErrorCode.TOO_MANY_SUBSCRIPTIONS]: 429,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.BUS_UNAVAILABLE]: 503,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.TOKEN_EXPIRED]: 401,
  [ErrorCode.ORIGIN_NOT_ALLOWED]: 403,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.TOO_MANY_CONNECTIONS]: 429,
  [ErrorCode.NO_HANDLER]: 404,
  [ErrorCode.REQUEST_TIMEOUT]: 504,
  [ErrorCode.HANDLER_ERROR]: 502,
  [ErrorCode.COMMAND_TIMEOUT]: 504,
  [ErrorCode.DEVICE_QUEUE_FULL]: 429,
  [ErrorCode.INTERNAL]: 500,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
};

/** A code not in the table is one a request handler chose (`throw new TickgateError("NO_SUCH_RELAY", …)`): 422. */
export function statusFor(code: string): number {
  return STATUS[code] ?? 422;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { "cache-control": "no-store", ...headers } });
}

export function httpError(code: string, message: string, details?: Record<string, unknown>): Response {
  return json(statusFor(code), { error: details ? { code, message, details } : { code, message } });
}
