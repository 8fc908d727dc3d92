/**
 * The demo: the live dashboard and the feeds behind it (market ticks, a
 * simulated device fleet, server stats). Only the CLI installs it; a library
 * server serves nothing of it unless asked.
 * @module
 */
import type { TickgateServer } from "../core/server.ts";
import { startDemo, type DemoOptions } from "./feeds/index.ts";
import { installDashboard, type ScriptRoute } from "./routes.ts";

export { DEMO_POLICIES, startDemo, type DemoOptions } from "./feeds/index.ts";
export { DASHBOARD_ENTRY, installDashboard, type ScriptRoute } from "./routes.ts";

export interface InstallDemoOptions {
  /** The dashboard script's route (`scriptRoute(DASHBOARD_ENTRY)` on Bun). */
  script: ScriptRoute;
  /** Feed settings; `false` serves the dashboard without starting feeds. */
  feeds: DemoOptions | false;
}

/** Installs the dashboard and starts the feeds; returns a function that stops the feeds. */
export function installDemo(server: TickgateServer, o: InstallDemoOptions): () => void {
  installDashboard(server, o.script);
  return o.feeds === false ? () => {} : startDemo(server, o.feeds);
}
