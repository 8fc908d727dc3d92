/**
 * `tickgate pub <topic> <json-data>`: one publication, with an ack; prints
 * the sequence number it got.
 * @module
 */
import { topicError } from "../../protocol/topic.ts";
import { CommandFailed, EXIT_CODES_HELP, Exit, UsageError, parseFlags, writeOut, type Command } from "../command.ts";
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionTarget, errorLine, openSocket } from "../socket.ts";

const HELP = `tickgate pub — publish one message and print its sequence number

Usage:
  tickgate pub <topic> <json-data> [--key K] [--url URL] [--encoding json|msgpack]

<json-data> is one JSON value: '{"bid":1.5}', '42', '"text"'. Put -- before a
value that starts with '-' (tickgate pub t -- -5).

Options:
  --key K            conflation / retention key (e.g. the symbol of a tick)
${CONNECTION_HELP}
  -h, --help         this help

Prints the publication's seq on stdout. A server error frame (FORBIDDEN,
BAD_TOPIC, PAYLOAD_TOO_LARGE, ...) is printed as one line on stderr.

${EXIT_CODES_HELP}
`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...CONNECTION_FLAGS, key: { type: "string" } });
  if (positionals.length !== 2) throw new UsageError(`pub takes <topic> and <json-data>, got ${positionals.length} argument(s)`);
  const [topic, text] = positionals as [string, string];
  const bad = topicError(topic, false);
  if (bad) throw new UsageError(`bad topic '${topic}': ${bad}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`<json-data> is not valid JSON: ${(e as Error).message}`);
  }
  const sock = await openSocket(connectionTarget(values, process.env));
  try {
    const frame: Record<string, unknown> & { id: string } = { t: "pub", id: "pub", topic, data };
    if (values.key !== undefined) frame.key = values.key;
    const answer = await sock.request(frame);
    if (answer.t === "error") throw new CommandFailed(errorLine(answer));
    await writeOut(`${String(answer.seq)}\n`);
    return Exit.OK;
  } finally {
    sock.close();
  }
}

export const pub: Command = { name: "pub", summary: "publish one message (with ack) and print its seq", help: HELP, run };
