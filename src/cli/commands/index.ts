/**
 * The command table: every `tickgate` subcommand, in the order
 * `tickgate --help` lists them. A new command (e.g. `token`, from the auth
 * work) is one import and one entry here; main.ts needs no change.
 * @module
 */
import type { Command } from "../command.ts";
import { bench } from "./bench.ts";
import { pub } from "./pub.ts";
import { serve } from "./serve.ts";
import { sub } from "./sub.ts";
import { token } from "./token.ts";

export const COMMANDS: readonly Command[] = [serve, pub, sub, token, bench];

/** The command run when the first argument is a flag or missing (`tickgate --port 0`). */
export const DEFAULT_COMMAND = "serve";
