/**
 * `npm run example:crypto-dashboard [-- --port 8081 --host 127.0.0.1 --no-bots]`
 * Starts the crypto dashboard, prints its URL, runs until Ctrl-C (SIGINT)
 * or SIGTERM, then closes every connection and exits 0.
 * @module
 */
import { start } from "./server.ts";
import { closeOnSignal } from "tickgate/bun";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const port = Number(flag("port") ?? process.env.PORT ?? 8081);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`crypto-dashboard: --port must be an integer from 0 to 65535`);
  process.exit(2);
}
const host = flag("host") ?? process.env.HOST ?? "127.0.0.1";
const bots = !process.argv.includes("--no-bots");

let app: Awaited<ReturnType<typeof start>>;
try {
  app = await start({ host, port, ...(bots ? {} : { simulatedClients: {} }) });
} catch (e) {
  console.error(`crypto-dashboard: ${(e as Error).message}`);
  process.exit(1);
}
console.log(`crypto dashboard: ${app.url}  (Ctrl-C to stop)`);

// Ctrl-C / SIGTERM: stop the producers and bots, close every connection (1001), exit 0.
closeOnSignal(app.server, () => {
  console.log("crypto dashboard: closing");
  return app.stop();
});
