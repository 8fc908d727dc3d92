/**
 * `npm run example:factory-iot [-- --port 8082 --host 127.0.0.1 --open]`
 * Starts the factory dashboard with its simulated machines and relay
 * controllers, prints its URL, runs until Ctrl-C (SIGINT) or SIGTERM, then
 * closes every connection and exits 0.
 *
 * Controllers authenticate with device tokens signed by an HS256 secret:
 * TICKGATE_AUTH_SECRET, or one generated at start and written to a file
 * only the user can read (its path is printed, never the secret).
 * `--open` turns auth off for a quick look (see the README for what that allows).
 * @module
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { start } from "./server.ts";
import { closeOnSignal } from "tickgate/bun";
import { mintCommand } from "./tokens.ts";

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
const open = process.argv.includes("--open");
const fromEnv = process.env.TICKGATE_AUTH_SECRET;

let app: Awaited<ReturnType<typeof start>>;
try {
  app = await start({ host, port, open, ...(fromEnv ? { secret: fromEnv } : {}) });
} catch (e) {
  console.error(`factory-iot: ${(e as Error).message}`);
  process.exit(1);
}
console.log(`factory dashboard: ${app.url}  (Ctrl-C to stop)`);
if (app.secret === undefined) {
  console.log("factory dashboard: running OPEN (--open): anyone who reaches this port may speak for any relay controller");
} else {
  let where = "TICKGATE_AUTH_SECRET";
  if (!fromEnv) {
    // The secret never goes to stdout: a file only this user can read.
    where = join(mkdtempSync(join(tmpdir(), "factory-iot-")), "auth-secret");
    writeFileSync(where, `${app.secret}\n`, { mode: 0o600 });
  }
  console.log(`factory dashboard: controllers need device tokens; HS256 secret in ${where}`);
  console.log(`factory dashboard: token for a real controller: ${mintCommand("relay-ctrl-2", fromEnv ? undefined : where)}`);
}

// Ctrl-C / SIGTERM: stop the producers and controllers, close every connection (1001), exit 0.
closeOnSignal(app.server, () => {
  console.log("factory dashboard: closing");
  return app.stop();
});
