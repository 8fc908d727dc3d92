/**
 * Internals for tests and the bench, not part of the public API: the server
 * implementation and its subsystems. `tickgate` (src/index.ts) exports only
 * the {@link TickgateServer} interface.
 * @module
 */
import type { TickgateServer } from "./core/api.ts";
import { TickgateServerImpl } from "./core/server.ts";

export { TickgateServerImpl, type ServerDeps, type HttpHandler } from "./core/server.ts";
export { ConnectionHost } from "./core/host.ts";
export { Gate } from "./core/gate.ts";
export type { Caller, RequestAuth } from "./core/caller.ts";
export { Replies, errorResponse } from "./core/replies.ts";
export { Broker } from "./core/broker.ts";
export { Session } from "./core/session.ts";

/** The implementation behind a server from `createServer`, to read its subsystems (broker, guard, devices, …). */
export function internals(server: TickgateServer): TickgateServerImpl {
  if (!(server instanceof TickgateServerImpl)) throw new TypeError("not a tickgate server created by createServer");
  return server;
}
