/** Starts a real server on 127.0.0.1 and a random port; disposing closes it. */
import { createServer } from "../../src/adapter/bun/index.ts";
import { internals, type TickgateServerImpl } from "../../src/internal.ts";

/** The implementation, so tests can read subsystems (broker, guard, devices) the public API hides. */
export type TestServer = TickgateServerImpl & AsyncDisposable;

export async function startServer(options: Record<string, unknown> = {}): Promise<TestServer> {
  const server = internals(createServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 500, ...options })) as TestServer;
  await server.listen();
  server[Symbol.asyncDispose] = () => server.close();
  return server;
}

let n = 0;
/** A topic no other test uses, so tests can run concurrently. */
export function uniqueTopic(prefix = "t"): string {
  return `${prefix}.${process.pid}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
}
