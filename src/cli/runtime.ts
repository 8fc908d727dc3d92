/**
 * Which runtime the CLI runs on, and where each command that needs more
 * than Node finds it. `pub`, `sub` and `token` run on plain Node 20+;
 * `serve` runs on Bun (`tickgate/bun`) or on Node with the native
 * uWebSockets.js build (`tickgate/node`), chosen in {@link startServer}.
 * @module
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import type { TickgateServer } from "../core/api.ts";
import type { ServerDeps } from "../core/server.ts";
import type { UserOptions } from "../core/options.ts";
import { CommandFailed } from "./command.ts";

/** The runtime's name and version, e.g. `{ name: "bun", version: "1.4.5" }`. */
export function runtime(): { name: "bun" | "node"; version: string } {
  const bun = (process.versions as Record<string, string | undefined>).bun;
  return bun ? { name: "bun", version: bun } : { name: "node", version: process.versions.node };
}

/** One line saying how to get `serve` running where Bun is missing. */
export const NEEDS_BUN = "tickgate serve runs on Bun (>= 1.2), and this is Node: install Bun ('npm install bun', or see bun.sh) and run 'npx bun x --bun tickgate serve'";

/** One line for Node without a loadable native uWebSockets.js build. */
const needsUwsOrBun = (why: string) => `tickgate serve on Node needs the native uWebSockets.js build (${why}); or it runs on Bun (>= 1.2): 'npm install bun' and run 'npx bun x --bun tickgate serve'`;

/**
 * Creates and starts a server on `tickgate/bun` or `tickgate/node`
 * (uWebSockets.js; the default under Node). `reusePort` lets several worker
 * processes listen on one port.
 */
export async function startServer(options: UserOptions, deps: Partial<ServerDeps>, listen: { on?: "bun" | "node"; reusePort?: boolean } = {}): Promise<TickgateServer> {
  const on = listen.on ?? runtime().name;
  if (on === "bun") {
    if (runtime().name !== "bun") throw new CommandFailed(NEEDS_BUN);
    const { serve, bunTransport } = await import("../adapter/bun/index.ts");
    return serve(options, listen.reusePort ? { transport: bunTransport({ reusePort: true }), ...deps } : deps);
  }
  // Loaded only when chosen: the uWebSockets.js adapter refuses to start under Bun.
  const { serve, loadUws } = await import("../adapter/uws/index.ts");
  try {
    await loadUws();
  } catch (e) {
    throw new CommandFailed(runtime().name === "bun" ? (e as Error).message : needsUwsOrBun((e as Error).message.replace(/^config: uws\.module: /, "")));
  }
  // uWS shares a port (SO_REUSEPORT) only when told to; workers tell it.
  return serve(options, deps, { reusePort: listen.reusePort ?? false });
}

/** Serves a browser bundle of `entry` (the dashboard script), built by this runtime's bundler. */
export async function scriptRoute(entry: string): Promise<() => Response | Promise<Response>> {
  if (runtime().name === "bun") return (await import("../adapter/bun/bundle.ts")).scriptRoute(entry);
  // Node has no bundler of its own: the page says the script is unavailable (500 with the reason).
  return () => Response.json({ error: { code: "INTERNAL", message: `the dashboard script could not be built: ${NEEDS_BUN}` } }, { status: 500 });
}

/**
 * A Bun executable to run TypeScript sources with (the benchmarks): this
 * process under Bun, else the `bun` package installed beside tickgate, else
 * `bun` on PATH. Undefined when there is none.
 */
export function findBun(): string | undefined {
  if (runtime().name === "bun") return process.execPath;
  try {
    const pkg = createRequire(import.meta.url).resolve("bun/package.json");
    // The package's postinstall puts the native binary at bin/bun.exe on every platform.
    const exe = join(pkg, "..", "bin", "bun.exe");
    if (existsSync(exe)) return exe;
  } catch {
    // not installed beside us; try PATH
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const exe = join(dir, process.platform === "win32" ? "bun.exe" : "bun");
    if (dir && existsSync(exe)) return exe;
  }
  return undefined;
}
