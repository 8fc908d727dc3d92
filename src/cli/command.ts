/**
 * What every `tickgate` subcommand is, the exit codes they share, and flag
 * parsing that turns every usage mistake into exit code 2.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Exit codes of every command; `--help` texts repeat them. */
export const Exit = {
  OK: 0,
  /** The command ran and failed: connection refused, a server error frame, a crash. */
  FAILURE: 1,
  /** Bad flags, arguments or config: nothing was attempted. */
  USAGE: 2,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  runtime failure (connection refused or lost, server error frame)
  2  bad usage or config`;

export interface Command {
  name: string;
  /** One line for the command list in `tickgate --help`. */
  summary: string;
  /** Full `--help` text, or a function building it (when it comes from definitions loaded on demand). */
  help: string | (() => Promise<string>);
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/** A usage mistake: the message is printed as one line, the exit code is 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An expected runtime failure: the message is printed as one line (no stack), the exit code is 1. */
export class CommandFailed extends Error {
  override name = "CommandFailed";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** `parseArgs`, strict, with its errors turned into {@link UsageError}s. */
export function parseFlags<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A flag that must be an integer in [min, max]. */
export function intFlag(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

/** A flag that must be a number in [min, max]. */
export function numberFlag(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`${name} must be a number from ${min} to ${max}, got '${raw}'`);
  return n;
}

/** Writes to stdout and resolves once the bytes are handed off, so exiting right after loses nothing. */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}
