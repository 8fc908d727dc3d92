/**
 * tickgate on Bun: everything in this folder knows Bun; nothing else does.
 * @example
 * import { serve } from "tickgate/bun";
 * const server = await serve({ port: 8080 });
 * server.publish("prices.BTC-USD", { bid: 64000.5 }, { key: "BTC-USD" });
 * @module
 */
import type { TickgateServer } from "../../core/api.ts";
import type { ServerOptions } from "../../core/options.ts";
import { TickgateServerImpl, type ServerDeps } from "../../core/server.ts";
import { httpRoutes } from "../../http/routes.ts";
import { bunTransport } from "./transport.ts";

export { bunTransport, BunTransport } from "./transport.ts";
export { bundleForBrowser, scriptRoute } from "./bundle.ts";
export { closeOnSignal } from "./signals.ts";

/** Creates a server on the Bun transport with the standard HTTP routes (not yet listening). */
export function createServer(options: ServerOptions = {}, deps: Partial<ServerDeps> = {}): TickgateServer {
  return new TickgateServerImpl(options, { transport: bunTransport(), http: httpRoutes, probe: process, ...deps });
}

/** Creates and starts a server. */
export async function serve(options: ServerOptions = {}, deps: Partial<ServerDeps> = {}): Promise<TickgateServer> {
  const server = createServer(options, deps);
  await server.listen();
  return server;
}
