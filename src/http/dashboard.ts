/**
 * The live dashboard's routes: `GET /` (the page) and `GET /dashboard.js`
 * (its script). The script is TypeScript in `src/dashboard/`, bundled by
 * the runtime; this layer only knows a function that returns it, handed in
 * per server by {@link provideDashboard} (`src/bun.ts` does so), so the
 * HTTP layer stays runtime-free.
 * @module
 */
import type { TickgateServer } from "../core/server.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { dashboardPage } from "./demo-page.ts";
import { httpError } from "./errors.ts";

export interface DashboardAssets {
  /** The page's browser bundle (ES module source). Called per request; cache inside. */
  script: () => Promise<string>;
}

const assets = new WeakMap<TickgateServer, DashboardAssets>();

/** Gives `server`'s `/dashboard.js` its bundle. Without it the route answers 500 and the page says so. */
export function provideDashboard(server: TickgateServer, a: DashboardAssets): void {
  assets.set(server, a);
}

export function handleDashboardPage(server: TickgateServer): Response {
  return new Response(dashboardPage(server.wsPath), { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" } });
}

export async function handleDashboardScript(server: TickgateServer): Promise<Response> {
  const a = assets.get(server);
  if (!a) return httpError(ErrorCode.INTERNAL, "the dashboard script is not available on this runtime (no bundler was provided)");
  try {
    const js = await a.script();
    return new Response(js, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } });
  } catch (e) {
    server.log.error({ event: "dashboard_build_failed", err: String(e) }, "dashboard script could not be built");
    return httpError(ErrorCode.INTERNAL, `the dashboard script could not be built: ${e instanceof Error ? e.message : String(e)}`);
  }
}
