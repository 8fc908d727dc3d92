/**
 * tickgate on Bun.
 * @example
 * import { serve } from "tickgate/bun";
 * const server = await serve({ port: 8080 });
 * server.publish("prices.BTC-USD", { bid: 64000.5 }, { key: "BTC-USD" });
 * @module
 */
import { TickgateServer, type ServerDeps } from "./core/server.ts";
import { dashboardScript } from "./dashboard/build.ts";
import { provideDashboard } from "./http/dashboard.ts";
import { httpRoutes } from "./http/routes.ts";
import { bunTransport } from "./transport/bun.ts";

export { bunTransport, BunTransport } from "./transport/bun.ts";
export { bundleForBrowser, scriptRoute } from "./transport/bun-bundle.ts";

/**
 * Creates a server on the Bun transport with the standard HTTP routes (not
 * yet listening). Its dashboard script (`/dashboard.js`) is bundled by
 * `Bun.build` on first request.
 */
export function createServer(options: unknown = {}, deps: Partial<ServerDeps> = {}): TickgateServer {
  const server = new TickgateServer(options, { transport: bunTransport(), http: httpRoutes, ...deps });
  provideDashboard(server, { script: dashboardScript });
  return server;
}

/** Creates and starts a server. */
export async function serve(options: unknown = {}, deps: Partial<ServerDeps> = {}): Promise<TickgateServer> {
  const server = createServer(options, deps);
  await server.listen();
  return server;
}
