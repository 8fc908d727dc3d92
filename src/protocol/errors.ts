/**
 * The one error family. Everything tickgate throws on purpose, on either
 * side of the wire (decoding, scanning, tokens, config, the client SDK),
 * is a {@link TickgateError} with a stable `code`; callers branch on the
 * code or the subclass, never on the message. Zod-free, so the client
 * shares it. No hot-path cost: built only when something fails.
 * @module
 */

/**
 * The base class: a stable `code` (a wire code from `codes.ts`, or a
 * client-side one), optional structured `details`, and `cause` passed on.
 * @example
 * try {
 *   decodeText(text);
 * } catch (e) {
 *   if (e instanceof TickgateError && e.code === "BAD_FRAME") refuse(e.message);
 * }
 */
export class TickgateError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions & { details?: Record<string, unknown> | undefined },
  ) {
    super(message, options);
    this.name = "TickgateError";
    this.details = options?.details;
  }
  readonly details: Record<string, unknown> | undefined;
}
