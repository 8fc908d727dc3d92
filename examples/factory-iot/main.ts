/**
 * `npm run example:factory-iot [-- --port 8082 --host 127.0.0.1]`
 * Starts the factory dashboard with its simulated machines and relay
 * controllers, prints its URL, runs until Ctrl-C (SIGINT) or SIGTERM, then
 * closes every connection and exits 0.
 * @module
 */
import { start } from "./server.ts";
import { closeOnSignal } from "tickgate/bun";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const port = Number(flag("port") ?? process.env.PORT ?? 8082);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`factory-iot: --port must be an integer from 0 to 65535`);
  process.exit(2);
}
const host = flag("host") ?? process.env.HOST ?? "127.0.0.1";

let app: Awaited<ReturnType<typeof start>>;
try {
  app = await start({ host, port });
} catch (e) {
  console.error(`factory-iot: ${(e as Error).message}`);
  process.exit(1);
}
console.log(`factory dashboard: ${app.url}  (Ctrl-C to stop)`);

// Ctrl-C / SIGTERM: stop the producers and controllers, close every connection (1001), exit 0.
closeOnSignal(app.server, () => {
  console.log("factory dashboard: closing");
  return app.stop();
});
