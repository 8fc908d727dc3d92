/**
 * Shutting a server down on SIGINT/SIGTERM: process signals belong to the
 * runtime, not the core. The CLI and the examples use this.
 * @module
 */
import type { TickgateServer } from "../../core/api.ts";

/**
 * Closes the server on SIGINT/SIGTERM and exits the process with 0 (1 if
 * closing fails), after `beforeClose` (e.g. stopping producers). The close
 * drains first (the `drainMs` option); a second signal ends the drain.
 * @example
 * closeOnSignal(server, () => feed.stop());
 */
export function closeOnSignal(server: TickgateServer, beforeClose: () => void | Promise<void> = () => {}): TickgateServer {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return void server.close({ drainMs: 0 });
    stopping = true;
    server.log.info({ event: "shutdown", signal }, "shutting down");
    Promise.resolve()
      .then(beforeClose)
      .then(() => server.close())
      .then(
        () => process.exit(0),
        (e) => {
          server.log.error({ event: "shutdown_failed", err: String(e) }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  return server;
}
