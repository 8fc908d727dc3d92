/**
 * `npm run example:crypto-dashboard [-- --port 8081 --host 127.0.0.1 --no-bots --allow-origin https://intranet.example]`
 * Starts the crypto dashboard, prints its URL, runs until Ctrl-C (SIGINT)
 * or SIGTERM, then closes every connection and exits 0.
 *
 * The operator key for `POST /api/alerts` comes from ALERTS_OPERATOR_KEY,
 * or is generated and written to a file only the user can read; the path
 * is printed, never the key. `--allow-origin` (repeatable) lets pages of
 * another origin use the status widget (`/widget.js`).
 * @module
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
const allowedOrigins = process.argv.flatMap((a, i) => (process.argv[i - 1] === "--allow-origin" ? [a] : []));
const keyFromEnv = process.env.ALERTS_OPERATOR_KEY;

let app: Awaited<ReturnType<typeof start>>;
try {
  app = await start({ host, port, allowedOrigins, ...(bots ? {} : { simulatedClients: {} }), ...(keyFromEnv ? { operatorKey: keyFromEnv } : {}) });
} catch (e) {
  console.error(`crypto-dashboard: ${(e as Error).message}`);
  process.exit(1);
}
console.log(`crypto dashboard: ${app.url}  (Ctrl-C to stop)`);
let keyWhere = "ALERTS_OPERATOR_KEY";
if (!keyFromEnv) {
  keyWhere = join(mkdtempSync(join(tmpdir(), "crypto-dashboard-")), "operator-key");
  writeFileSync(keyWhere, `${app.operatorKey}\n`, { mode: 0o600 });
}
console.log(`crypto dashboard: operator key for POST /api/alerts in ${keyWhere}`);
console.log(`crypto dashboard: status widget: <script src="${app.url}widget.js"></script>${allowedOrigins.length ? ` (other origins allowed: ${allowedOrigins.join(", ")})` : " (add --allow-origin <origin> for pages elsewhere)"}`);

// Ctrl-C / SIGTERM: stop the producers and bots, close every connection (1001), exit 0.
closeOnSignal(app.server, () => {
  console.log("crypto dashboard: closing");
  return app.stop();
});
