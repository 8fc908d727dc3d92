/**
 * The live dashboard's routes: `GET /` (the page) and `GET /dashboard.js`
 * (its script, TypeScript in `./dashboard/` bundled by whatever runtime the
 * server runs on). The demo installs them with the server's public
 * `route()`: the library's HTTP layer knows nothing of the dashboard.
 * @module
 */
import { fileURLToPath } from "node:url";
import type { TickgateServer } from "../core/server.ts";
import { dashboardPage } from "./page.ts";

/**
 * The dashboard script's entry, for a runtime's bundler: the TypeScript
 * source in a checkout, the compiled JavaScript in the installed package.
 */
export const DASHBOARD_ENTRY = fileURLToPath(new URL(`./dashboard/main.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url));

/** Serves the bundled script; builds and caches are the bundler's business (see `scriptRoute` in `tickgate/bun`). */
export type ScriptRoute = () => Response | Promise<Response>;

/** Adds `GET /` and `GET /dashboard.js` to `server`. */
export function installDashboard(server: TickgateServer, script: ScriptRoute): void {
  const html = dashboardPage(server.wsPath);
  server.route("GET", "/", () => new Response(html, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" } }));
  server.route("GET", "/dashboard.js", script);
}
