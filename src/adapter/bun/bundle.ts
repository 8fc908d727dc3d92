/**
 * Browser bundles with Bun's own bundler, for pages served by a tickgate
 * server (the live dashboard, the examples, your own). Bun-only, like the
 * rest of `src/adapter/bun/`.
 * @module
 */

/** Bundles `entry` (and what it imports, e.g. `tickgate/client`) into one minified ES module. */
export async function bundleForBrowser(entry: string): Promise<string> {
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

/**
 * A route handler serving `entry`'s bundle, built on first request and kept
 * for the process (a failed build is retried on the next request).
 * @example
 * server.route("GET", "/app.js", scriptRoute(new URL("./page/main.ts", import.meta.url).pathname));
 */
export function scriptRoute(entry: string): () => Promise<Response> {
  let cached: Promise<string> | undefined;
  return async () => {
    cached ??= bundleForBrowser(entry).catch((e: unknown) => {
      cached = undefined;
      throw e;
    });
    try {
      return new Response(await cached, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } });
    } catch (e) {
      return Response.json({ error: { code: "INTERNAL", message: `script could not be built: ${(e as Error).message}` } }, { status: 500 });
    }
  };
}
