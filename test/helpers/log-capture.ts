/**
 * A {@link Logger} that records every call as one JSON line (level, msg and
 * the fields), the way pino would write it, so tests can grep the output
 * like an operator would and check that no secret got into it.
 */
import { createServer } from "../../src/adapter/bun/index.ts";
import type { Logger } from "../../src/core/log.ts";
import { internals } from "../../src/internal.ts";
import type { TestServer } from "./server.ts";

export type Level = "info" | "warn" | "error" | "debug";

export interface LogEntry {
  level: Level;
  msg: string;
  fields: Record<string, unknown>;
  /** The line as written: `{"level":...,"msg":...,...fields}`. */
  line: string;
}

export interface LogCapture extends Logger {
  entries: LogEntry[];
  /** Every line, joined with newlines. */
  text(): string;
  /** Entries whose fields include every given field value. */
  find(match: Record<string, unknown>): LogEntry[];
  /** Resolves with the first entry (already written or to come) matching. */
  waitFor(match: Record<string, unknown>, timeoutMs?: number): Promise<LogEntry>;
  clear(): void;
}

function stringify(v: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(v, (_k, x) => {
    if (typeof x === "bigint") return x.toString();
    if (x instanceof Error) return { name: x.name, message: x.message, stack: x.stack };
    if (x && typeof x === "object") {
      if (seen.has(x)) return "[circular]";
      seen.add(x);
    }
    return x;
  });
}

export function captureLogs(): LogCapture {
  const entries: LogEntry[] = [];
  const waiters: { match: Record<string, unknown>; resolve: (e: LogEntry) => void }[] = [];
  const matches = (e: LogEntry, m: Record<string, unknown>) => Object.entries(m).every(([k, v]) => e.fields[k] === v);
  const write = (level: Level) => (fields: Record<string, unknown>, msg: string) => {
    // Copy the fields now: a caller may reuse or mutate its object later.
    const copy = JSON.parse(stringify(fields ?? {})) as Record<string, unknown>;
    const e: LogEntry = { level, msg, fields: copy, line: stringify({ level, msg, ...copy }) };
    entries.push(e);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (matches(e, waiters[i]!.match)) waiters.splice(i, 1)[0]!.resolve(e);
    }
  };
  return {
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    debug: write("debug"),
    entries,
    text: () => entries.map((e) => e.line).join("\n"),
    find: (m) => entries.filter((e) => matches(e, m)),
    waitFor(m, timeoutMs = 5000) {
      const hit = entries.find((e) => matches(e, m));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { match: m, resolve: (e: LogEntry) => (clearTimeout(t), resolve(e)) };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no log line matching ${JSON.stringify(m)} within ${timeoutMs} ms; last: ${entries.slice(-5).map((e) => e.line).join(" | ")}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    clear: () => void entries.splice(0),
  };
}

/**
 * Like `startServer` in server.ts, with a capturing logger: a real server on
 * 127.0.0.1 and a random port; disposing closes it.
 */
export async function startLoggedServer(options: Record<string, unknown> = {}): Promise<{ server: TestServer; logs: LogCapture }> {
  const logs = captureLogs();
  const server = internals(createServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 500, ...options }, { log: logs })) as TestServer;
  await server.listen();
  server[Symbol.asyncDispose] = () => server.close();
  return { server, logs };
}
