/**
 * `tickgate sub <topic>`: prints every publication as one JSON line, for
 * piping into jq or a test. Status lines go to stderr, so stdout carries
 * publications only.
 * @module
 */
import { topicError } from "../../protocol/topic.ts";
import { CommandFailed, EXIT_CODES_HELP, Exit, UsageError, intFlag, parseFlags, writeOut, type Command } from "../command.ts";
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionTarget, errorLine, openSocket, type Frame } from "../socket.ts";

const HELP = `tickgate sub — subscribe and print publications as JSON lines

Usage:
  tickgate sub <topic-or-pattern> [--count N] [--url URL] [--encoding json|msgpack]

Patterns use * for one token and > for the rest: prices.*, devices.>.

Options:
  --count N          exit 0 after N publications (default: run until Ctrl-C)
${CONNECTION_HELP}
  -h, --help         this help

Each publication is one line on stdout:
  {"topic":"prices.BTC-USD","seq":42,"data":{...},"key":"BTC-USD","ts":1700000000000,"epoch":"..."}
Retained values, if the topic keeps them, come first. "subscribed" and gap
notices (publications skipped while this reader was slow) go to stderr.
SIGINT or SIGTERM ends the subscription with exit 0.

${EXIT_CODES_HELP}
`;

/** The JSON line for one publication frame: topic, seq and data first, for the reader. */
export function publicationLine(f: Frame): string {
  const line: Record<string, unknown> = { topic: f.topic, seq: f.seq, data: f.data };
  if (f.key !== undefined) line.key = f.key;
  line.ts = f.ts;
  line.epoch = f.epoch;
  return `${JSON.stringify(line)}\n`;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...CONNECTION_FLAGS, count: { type: "string" } });
  if (positionals.length !== 1) throw new UsageError(`sub takes one <topic-or-pattern>, got ${positionals.length} argument(s)`);
  const topic = positionals[0]!;
  const bad = topicError(topic, true);
  if (bad) throw new UsageError(`bad topic '${topic}': ${bad}`);
  const count = intFlag(values.count, "--count", 0, 1, Number.MAX_SAFE_INTEGER);
  const sock = await openSocket(connectionTarget(values, process.env));

  let done!: (code: number) => void;
  let failed!: (e: Error) => void;
  const finished = new Promise<number>((resolve, reject) => ((done = resolve), (failed = reject)));
  finished.catch(() => {}); // awaited below; this only keeps an early exit from reporting it as unhandled
  const stop = () => done(Exit.OK);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);

  // Lines are written in order: each waits for the previous one to be handed off.
  let printed = 0;
  let writing = Promise.resolve();
  sock.onFrame = (f) => {
    if (f.t === "msg") {
      if (count > 0 && printed >= count) return;
      printed++;
      const last = count > 0 && printed === count;
      writing = writing.then(() => writeOut(publicationLine(f)));
      if (last) writing.then(() => done(Exit.OK), failed);
    } else if (f.t === "gap") {
      process.stderr.write(`tickgate: gap on '${String(f.topic)}': ${String(f.count)} publication(s) ${String(f.reason)}\n`);
    } else if (f.t === "error") {
      process.stderr.write(`tickgate: ${errorLine(f)}\n`);
    }
  };
  sock.closed.then(({ code, reason }) => failed(new CommandFailed(`connection closed by the server (${code}${reason ? `: ${reason}` : ""})`)));

  try {
    const ack = await sock.request({ t: "sub", id: "sub", topic });
    if (ack.t === "error") throw new CommandFailed(errorLine(ack));
    process.stderr.write(`tickgate: subscribed to '${topic}'\n`);
    const code = await finished;
    await writing;
    return code;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    sock.close();
  }
}

export const sub: Command = { name: "sub", summary: "subscribe and print publications as JSON lines", help: HELP, run };
