/**
 * Bundles the dashboard's browser script (`main.ts` and the client SDK it
 * imports) with `Bun.build`, once per process, on first use. Only the Bun
 * entry point (`src/bun.ts`) imports this; the page's own modules never do.
 * @module
 */
import { join } from "node:path";
import { bundleForBrowser } from "../transport/bun-bundle.ts";

export const DASHBOARD_ENTRY = join(import.meta.dir, "main.ts");

/** Bundles `entry` for the browser into one minified ES module; rejects with the bundler's messages. */
export function buildDashboard(entry = DASHBOARD_ENTRY): Promise<string> {
  return bundleForBrowser(entry);
}

let cached: Promise<string> | undefined;

/**
 * The bundle, built on the first call and kept for the process. A failed
 * build is not kept, so the next request tries again.
 */
export function dashboardScript(): Promise<string> {
  cached ??= buildDashboard().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}
