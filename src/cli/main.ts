#!/usr/bin/env node
/**
 * `tickgate` command line: picks a command from the table in
 * commands/index.ts and maps what it ends with to an exit code: 0 ok,
 * 1 runtime failure, 2 bad usage or config. Only the CLI reads the
 * environment.
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import { CommandFailed, EXIT_CODES_HELP, Exit, UsageError, type Command } from "./command.ts";
import { COMMANDS, DEFAULT_COMMAND } from "./commands/index.ts";

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `tickgate — WebSocket pub/sub server

Usage:
  tickgate <command> [options]
  tickgate <command> --help
  tickgate [serve options]          (no command: serve)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

${EXIT_CODES_HELP}
`;
}

const isHelp = (a: string) => a === "--help" || a === "-h";

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === undefined || first.startsWith("-")) {
    if (first !== undefined && isHelp(first)) {
      process.stdout.write(mainHelp());
      return Exit.OK;
    }
    return dispatch(DEFAULT_COMMAND, argv);
  }
  if (first === "help") {
    const about = argv[1];
    const cmd = about === undefined ? undefined : COMMANDS.find((c) => c.name === about);
    if (about !== undefined && !cmd) throw new UsageError(`unknown command '${about}'; run 'tickgate --help' for the list`);
    process.stdout.write(cmd ? await helpOf(cmd) : mainHelp());
    return Exit.OK;
  }
  return dispatch(first, argv.slice(1));
}

const helpOf = (cmd: Command) => (typeof cmd.help === "string" ? Promise.resolve(cmd.help) : cmd.help());

async function dispatch(name: string, args: string[]): Promise<number> {
  const cmd: Command | undefined = COMMANDS.find((c) => c.name === name);
  if (!cmd) throw new UsageError(`unknown command '${name}'; run 'tickgate --help' for the list`);
  // Arguments after "--" are data (e.g. a JSON value), never a help flag.
  const end = args.indexOf("--");
  if ((end < 0 ? args : args.slice(0, end)).some(isHelp)) {
    process.stdout.write(await helpOf(cmd));
    return Exit.OK;
  }
  return cmd.run(args);
}

function fail(code: number, message: string): void {
  process.stderr.write(`tickgate: ${message}\n`);
  process.exitCode = code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof UsageError || e instanceof ConfigError) fail(Exit.USAGE, e.message.split("\n")[0]!);
    else if (e instanceof CommandFailed) fail(Exit.FAILURE, e.message);
    // System errors (EADDRINUSE, EACCES, ...) say enough in one line.
    else if (typeof (e as { code?: unknown })?.code === "string" && /^E[A-Z]+$/.test((e as { code: string }).code)) fail(Exit.FAILURE, (e as Error).message);
    else fail(Exit.FAILURE, String((e as Error)?.stack ?? e));
    process.exit();
  },
);
