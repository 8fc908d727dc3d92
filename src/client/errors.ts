/**
 * Client errors. Every rejection and every `error` event carries a
 * {@link TickgateClientError} whose `code` is either a wire code from the
 * server (`protocol/codes.ts`, e.g. `PAYLOAD_TOO_LARGE`) or one of the
 * client-side codes below.
 * @module
 */
import { CloseCode, ErrorCode } from "../protocol/codes.ts";
import { TickgateError } from "../protocol/errors.ts";

/**
 * Codes for failures the client detects itself (never sent by a server).
 * @example
 * client.request("slow").catch((e) => {
 *   if (e.code === ClientErrorCode.TIMEOUT) retryLater();
 * });
 */
export const ClientErrorCode = {
  /** No answer (ack, response, connection) within the allowed time. */
  TIMEOUT: "TIMEOUT",
  /** The connection dropped while the frame was in flight; it may or may not have taken effect. */
  CONNECTION_LOST: "CONNECTION_LOST",
  /** `close()` was called, or the client was never connected. */
  CLOSED: "CLOSED",
  /** The outgoing queue kept while disconnected is full (`maxQueued`). */
  QUEUE_FULL: "QUEUE_FULL",
  /** The operation is not available in the current mode (e.g. `request` over SSE). */
  UNSUPPORTED: "UNSUPPORTED",
  /** A subscription handler or event listener threw; the original error is the `cause`. */
  LISTENER_ERROR: "LISTENER_ERROR",
  /** `reconnect.maxAttempts` consecutive attempts failed; the client is disconnected. */
  RECONNECT_FAILED: "RECONNECT_FAILED",
  /** An HTTP request (SSE stream or publish) failed without a tickgate error body. */
  HTTP: "HTTP",
  /** A constructor option is invalid. */
  INVALID_OPTION: "INVALID_OPTION",
  /**
   * The server closed the connection with 4401: the token of an `auth` frame
   * (`setToken`) was refused. The client keeps reconnecting with the token
   * it has; give it a good one with `setToken`, or `close()`.
   */
  AUTH_FAILED: "AUTH_FAILED",
  /**
   * The server closed the connection with 4408: it requires a token and none
   * came in time. The client keeps reconnecting; `setToken` may fix it.
   * (4403, an expired token, is reported with the wire code `TOKEN_EXPIRED`.)
   */
  AUTH_TIMEOUT: "AUTH_TIMEOUT",
  /**
   * A device received a command that no `onCommand` handler takes. It is
   * not acknowledged, so the server resends it until a handler is added or
   * the command expires. Reported once per command id.
   */
  NO_COMMAND_HANDLER: "NO_COMMAND_HANDLER",
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/**
 * The error type of every rejection and `error` event.
 * @example
 * try {
 *   await client.publish("srv.only", 1);
 * } catch (e) {
 *   if (e instanceof TickgateClientError && e.code === "FORBIDDEN") console.warn("read-only topic");
 * }
 */
export class TickgateClientError extends TickgateError {
  /**
   * `code`: a wire error code (`ErrorCode`) or a {@link ClientErrorCode};
   * `details`: structured context from the server's error frame, e.g. `{size, limit}`.
   */
  constructor(code: string, message: string, options?: ErrorOptions & { details?: Record<string, unknown> | undefined }) {
    super(code, message, options);
    this.name = "TickgateClientError";
  }

  /** Builds the error for a server `error` frame (or an HTTP `{error: {code, message}}` body). */
  static fromWire(e: { code?: unknown; message?: unknown; details?: unknown }): TickgateClientError {
    const code = typeof e.code === "string" ? e.code : "INTERNAL";
    const message = typeof e.message === "string" ? e.message : code;
    const details = e.details && typeof e.details === "object" ? (e.details as Record<string, unknown>) : undefined;
    return new TickgateClientError(code, message, { details });
  }
}

/** Closes that say the server refused the client: another transport would be refused too. */
const AUTH_CLOSES = new Set<number>([CloseCode.AUTH_FAILED, CloseCode.TOKEN_EXPIRED, CloseCode.AUTH_TIMEOUT]);

/** @internal */
export function closedError(message: string): TickgateClientError {
  return new TickgateClientError(ClientErrorCode.CLOSED, message);
}

/** The error to report when the server closed for an authentication reason; undefined for other closes. @internal */
export function authCloseError(info: { code: number; reason: string }): TickgateClientError | undefined {
  if (!AUTH_CLOSES.has(info.code)) return undefined;
  const details = { closeCode: info.code, reason: info.reason };
  switch (info.code) {
    case CloseCode.AUTH_FAILED:
      return new TickgateClientError(ClientErrorCode.AUTH_FAILED, `the server refused the token and closed the connection (4401 ${info.reason})`, { details });
    case CloseCode.TOKEN_EXPIRED:
      return new TickgateClientError(ErrorCode.TOKEN_EXPIRED, `the token expired and the server closed the connection (4403 ${info.reason}); set a fresh one with setToken`, { details });
    default:
      return new TickgateClientError(ClientErrorCode.AUTH_TIMEOUT, `the server requires a token and none came in time (4408 ${info.reason}); set one with setToken`, { details });
  }
}

/**
 * The error for a 4406 close: the server does not allow the page's origin.
 * Final: no retry and no other transport would get in. @internal
 */
export function originRefusedError(info: { code: number; reason: string }): TickgateClientError {
  return new TickgateClientError(ErrorCode.ORIGIN_NOT_ALLOWED, `the server does not allow this page's origin and closed the connection (${info.code} ${info.reason}); the server must list it in limits.allowedOrigins`, {
    details: { closeCode: info.code, reason: info.reason },
  });
}

/** @internal */
export function listenerError(where: string, e: unknown): TickgateClientError {
  return new TickgateClientError(ClientErrorCode.LISTENER_ERROR, `${where} threw: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** Nobody listens for errors: say so on the console rather than lose them. @internal */
export function reportUnheard(e: unknown): void {
  console.error("tickgate client:", e);
}
