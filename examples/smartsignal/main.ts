/**
 * `npm run example:smartsignal`: the SmartSignal server and a demo client in
 * one process, until Ctrl-C (SIGINT) or SIGTERM.
 *
 *   npm run example:smartsignal -- [--port 8765] [--host 127.0.0.1] [--period-scale 1] [--no-client]
 *
 * Each flag may come from the environment instead: PORT (0 picks a free
 * port), HOST, PERIOD_SCALE (multiplies the seed's periods: 0.1 runs ten
 * times faster), NO_CLIENT=1 (server only; run `bun examples/smartsignal/client.ts`).
 * @module
 */
import { parseArgs } from "node:util";
import { runClient } from "./client.ts";
import { SEED_PERIODS, start, STREAMS } from "./server.ts";
import { closeOnSignal } from "tickgate/bun";

const { values: flags } = parseArgs({
  options: { port: { type: "string" }, host: { type: "string" }, "period-scale": { type: "string" }, "no-client": { type: "boolean" } },
});
const scale = Number(flags["period-scale"] ?? process.env.PERIOD_SCALE ?? 1);
const periods = Object.fromEntries(STREAMS.map((t) => [t, Math.max(50, Math.round(SEED_PERIODS[t] * scale))]));
const app = await start({ port: Number(flags.port ?? process.env.PORT ?? 8765), host: flags.host ?? process.env.HOST ?? "127.0.0.1", periods }).catch((e: Error) => {
  console.error(`smartsignal: ${e.message}`); // e.g. the port is taken
  process.exit(2);
});
// Tests and scripts read the port from this line.
console.log(`smartsignal listening on ${app.wsUrl}`);
console.log(`old clients (seed protocol): ${app.legacyUrl}`);
// Ctrl-C / SIGTERM: stop the client and the producers, close every connection (1001), exit 0.
// Armed before the client starts, so a signal at any moment from here on shuts down cleanly.
let client: Awaited<ReturnType<typeof runClient>> | undefined;
process.once("exit", (code) => console.log(code === 0 ? "stopped" : `exited with ${code}`));
closeOnSignal(app.server, () => {
  console.log("\nstopping");
  client?.stop();
  return app.stop();
});
client = flags["no-client"] || process.env.NO_CLIENT ? undefined : await runClient(app.wsUrl, { print: (l) => console.log(`   [client] ${l}`) });
