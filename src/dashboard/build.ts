/**
 * Bundles the dashboard's browser script (`main.ts` and the client SDK it
 * imports) with `Bun.build`, once per process, on first use. Only the Bun
 * entry point (`src/bun.ts`) imports this; the page's own modules never do.
 * @module
 */
import { join } from "node:path";

export const DASHBOARD_ENTRY = join(import.meta.dir, "main.ts");

/** Bundles `entry` for the browser into one minified ES module; rejects with the bundler's messages. */
export async function buildDashboard(entry = DASHBOARD_ENTRY): Promise<string> {
  let result: Awaited<ReturnType<typeof Bun.build>>;
  try {
    result = await Bun.build({ entrypoints: [entry], target: "browser", format: "esm", minify: true });
  } catch (e) {
    // Bun throws an AggregateError of build messages when the build fails.
    const errors = e instanceof AggregateError ? e.errors.map(String) : [String(e)];
    throw new Error(errors.join("; ") || "build failed");
  }
  const out = result.outputs.find((o) => o.kind === "entry-point");
  if (!result.success || !out) throw new Error(result.logs.map(String).join("; ") || "build produced no entry point");
  return out.text();
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
