/**
 * tickgate on Node with uWebSockets.js: everything in this folder knows uWS;
 * nothing else does.
 * @example
 * import { serve } from "tickgate/node";
 * const server = await serve({ port: 8080 });
 * server.publish("prices.BTC-USD", { bid: 64000.5 }, { key: "BTC-USD" });
 * @module
 */
import type { TickgateServer } from "../../core/api.ts";
import type { ServerOptions } from "../../core/options.ts";
import { TickgateServerImpl, type ServerDeps } from "../../core/server.ts";
import { httpRoutes } from "../../http/routes.ts";
import { uwsTransport, type UwsTransportOptions } from "./transport.ts";

export { uwsTransport, UwsTransport, type UwsTransportOptions } from "./transport.ts";
export { loadUws, isNativeBuild, DEFAULT_UWS_MODULES } from "./load.ts";

/** Creates a server on the uWebSockets.js transport with the standard HTTP routes (not yet listening). */
export function createServer(options: ServerOptions = {}, deps: Partial<ServerDeps> = {}, uws: UwsTransportOptions = {}): TickgateServer {
  return new TickgateServerImpl(options, { transport: uwsTransport(uws), http: httpRoutes, probe: process, ...deps });
}

/** Creates and starts a server. */
export async function serve(options: ServerOptions = {}, deps: Partial<ServerDeps> = {}, uws: UwsTransportOptions = {}): Promise<TickgateServer> {
  const server = createServer(options, deps, uws);
  await server.listen();
  return server;
}
