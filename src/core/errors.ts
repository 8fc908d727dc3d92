/**
 * Typed errors. Every error a client can see carries a stable `code` from
 * `protocol/codes.ts`; callers branch on the subclass or the code, never on
 * the message.
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import { TickgateError } from "../protocol/errors.ts";

/** The base class lives in the protocol, so decoding errors and the client share it. */
export { TickgateError };

/** Bad configuration. The message is one line that names the bad key. */
export class ConfigError extends TickgateError {
  constructor(message: string) {
    super("CONFIG", message);
    this.name = "ConfigError";
  }
  static format(key: string, reason: string): ConfigError {
    return new ConfigError(`config: ${key || "(root)"}: ${reason}`);
  }
}

/** A client did something the protocol or a policy refuses. */
export class ProtocolError extends TickgateError {
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details ? { details } : undefined);
    this.name = "ProtocolError";
  }
}

export class TimeoutError extends TickgateError {
  constructor(message: string, code: string = ErrorCode.REQUEST_TIMEOUT) {
    super(code, message);
    this.name = "TimeoutError";
  }
  /** The same timeout under another wire code (e.g. COMMAND_TIMEOUT). */
  withCode(code: string): TimeoutError {
    return new TimeoutError(this.message, code);
  }
}
