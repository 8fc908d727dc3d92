/**
 * The device side of commands: handlers by name, and the memory of recently
 * handled command ids that turns the server's at-least-once delivery into
 * "run once, acknowledge as often as asked".
 *
 * A command's `cid` is remembered from the moment its handler starts: a
 * copy that arrives while the handler runs is ignored (the answer is on
 * its way), a copy that arrives after is acknowledged again with the
 * remembered result (or refused again, for a {@link CommandRefused}). A
 * handler that throws anything else is forgotten, so the next copy runs it
 * again. The memory is bounded (oldest finished entries go first).
 * @internal
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import { LIMITS, REFUSAL_CODE_PATTERN, type DeviceCommandFrame } from "../protocol/wire.ts";
import { ClientErrorCode, TickgateClientError } from "./errors.ts";

/** What a command handler learns besides the command's data. */
export interface CommandInfo {
  /** The command's id on the server; the same on every redelivery. */
  cid: string;
  /** The command's name, as the sender gave it. */
  name: string;
  /** When the server sent this copy (ms since the Unix epoch). */
  ts: number;
}

/**
 * Carries out one command. Its result (resolved value) is sent back to the
 * sender in the acknowledgement; it must be encodable (JSON or msgpack).
 * Throwing a {@link CommandRefused} refuses it: the sender's `command()`
 * rejects with that code. Throwing (or rejecting with) anything else leaves
 * the command unacknowledged: the server sends it again, until it expires.
 */
export type CommandHandler<T = any, R = unknown> = (data: T, info: Readonly<CommandInfo>) => R | Promise<R>;

const CODE = REFUSAL_CODE_PATTERN;
const MAX_REFUSAL_MESSAGE = LIMITS.nackMessageLength;
/**
 * Codes a device may not refuse with: the server's own (it answers a
 * `command_nack` with one of them with INVALID_FRAME and resends the
 * command) and the client's, which a sender would take for its own failure.
 * The server's list is `RESERVED` in core/requests.ts; a test keeps them equal.
 */
const NOT_FOR_DEVICES = new Set<string>([...Object.values(ErrorCode), ...Object.values(ClientErrorCode), "CONFIG", "METHOD_NOT_ALLOWED", "NOT_FOUND"]);

/**
 * Thrown by an `onCommand` handler to refuse the command for good: the
 * device answers `command_nack` with `code` and `message`, and the sender's
 * `command()` rejects with a `TickgateClientError` of that code (over
 * WebSocket and HTTP alike). The server does not resend a refused command.
 * Use it for "no, and asking again won't help" (a locked-out output, an
 * unknown channel); throw anything else for "try again".
 * @example
 * device.onCommand("set_relay", ({ channel, on }) => {
 *   if (lockedOut.has(channel)) throw new CommandRefused("LOCKED_OUT", `channel ${channel} is locked out for maintenance`);
 *   return switchRelay(channel, on);
 * });
 */
export class CommandRefused extends Error {
  /** An UPPER_SNAKE code of 2–64 characters, e.g. `LOCKED_OUT`. */
  readonly code: string;

  /**
   * @throws TickgateClientError `INVALID_OPTION` for a code that is not
   * UPPER_SNAKE (2–64 characters), or is one of tickgate's own (`FORBIDDEN`,
   * `TIMEOUT`, ...): a device's refusal must not pass for the server's or
   * the client's.
   */
  constructor(code: string, message = "the device refused the command") {
    if (typeof code !== "string" || !CODE.test(code)) {
      throw new TickgateClientError(ClientErrorCode.INVALID_OPTION, `CommandRefused: code must be UPPER_SNAKE, 2–64 characters (e.g. LOCKED_OUT), not '${String(code).slice(0, 64)}'`);
    }
    if (NOT_FOR_DEVICES.has(code)) {
      throw new TickgateClientError(ClientErrorCode.INVALID_OPTION, `CommandRefused: '${code}' is one of tickgate's own codes; refuse with a code of your own (e.g. LOCKED_OUT)`);
    }
    const text = String(message);
    super(text.length > MAX_REFUSAL_MESSAGE ? `${text.slice(0, MAX_REFUSAL_MESSAGE - 1)}…` : text);
    this.name = "CommandRefused";
    this.code = code;
  }
}

type Memory = { state: "running" } | { state: "done"; result: unknown } | { state: "refused"; code: string; message: string } | { state: "unhandled" };

/** How many command ids a client remembers. @internal */
export const COMMAND_MEMORY = 1024;

/** @internal */
export interface CommandCallbacks<Via> {
  /** Sends `command_ack` for `cid` over `via` (the connection the copy came on), if it is still current. */
  ack(cid: string, result: unknown, via: Via): void;
  /** Sends `command_nack` for `cid` over `via`, likewise. */
  nack(cid: string, code: string, message: string, via: Via): void;
  error(err: TickgateClientError): void;
}

/** @internal */
export class CommandRouter<Via> {
  readonly #handlers = new Map<string, CommandHandler>();
  readonly #memory = new Map<string, Memory>();

  constructor(
    readonly cb: CommandCallbacks<Via>,
    readonly limit = COMMAND_MEMORY,
  ) {}

  get size(): number {
    return this.#handlers.size;
  }

  /** Sets the handler of `name` (`"*"`: every name without its own), replacing any; returns a remover. */
  on(name: string, handler: CommandHandler): () => void {
    this.#handlers.set(name, handler);
    return () => {
      if (this.#handlers.get(name) === handler) this.#handlers.delete(name);
    };
  }

  receive(f: DeviceCommandFrame, via: Via): void {
    const cid = f.cid;
    const seen = this.#memory.get(cid);
    if (seen?.state === "running") return;
    if (seen?.state === "done") return this.cb.ack(cid, seen.result, via);
    if (seen?.state === "refused") return this.cb.nack(cid, seen.code, seen.message, via);
    const handler = this.#handlers.get(f.name) ?? this.#handlers.get("*");
    if (!handler) {
      if (seen) return;
      this.#remember(cid, { state: "unhandled" });
      return this.cb.error(
        new TickgateClientError(ClientErrorCode.NO_COMMAND_HANDLER, `no onCommand handler for '${f.name}' (cid ${cid}); it stays unacknowledged and will be resent`, {
          details: { cid, name: f.name },
        }),
      );
    }
    this.#remember(cid, { state: "running" });
    const info: CommandInfo = { cid, name: f.name, ts: f.ts };
    let out: unknown;
    try {
      out = handler(f.data, info);
    } catch (e) {
      return this.#failed(info, e, via);
    }
    Promise.resolve(out).then(
      (result) => {
        const r = result === undefined ? null : result;
        this.#remember(cid, { state: "done", result: r });
        this.cb.ack(cid, r, via);
      },
      (e) => this.#failed(info, e, via),
    );
  }

  #failed(info: CommandInfo, e: unknown, via: Via): void {
    if (e instanceof CommandRefused) {
      this.#remember(info.cid, { state: "refused", code: e.code, message: e.message });
      return this.cb.nack(info.cid, e.code, e.message, via);
    }
    this.#memory.delete(info.cid);
    this.cb.error(
      new TickgateClientError(ClientErrorCode.LISTENER_ERROR, `command handler for '${info.name}' (cid ${info.cid}) threw: ${(e as Error)?.message ?? String(e)}; not acknowledged, the server will resend it`, {
        cause: e,
        details: { cid: info.cid, name: info.name },
      }),
    );
  }

  #remember(cid: string, m: Memory): void {
    this.#memory.delete(cid); // re-inserted: newest last
    this.#memory.set(cid, m);
    if (this.#memory.size <= this.limit) return;
    // Forget the oldest entry that is not running (a running one still owes its ack).
    for (const [k, v] of this.#memory) {
      if (v.state === "running") continue;
      this.#memory.delete(k);
      return;
    }
  }
}
