/**
 * `npm run example:crypto-platform`: the platform and a demo client in one
 * process, until Ctrl-C (SIGINT) or SIGTERM.
 *
 *   npm run example:crypto-platform -- [--port 7860] [--host 127.0.0.1] [--period-scale 1] [--no-client]
 *                                      [--keywords bitcoin,ethereum] [--exclude regulation] [--all-news]
 *
 * Each flag may come from the environment instead: PORT (0 picks a free
 * port), HOST, PERIOD_SCALE (multiplies every period and the news interval:
 * 0.1 runs ten times faster), NO_CLIENT=1 (server only; run
 * `bun examples/crypto-platform/client.ts`). `--keywords` and `--exclude`
 * make the demo client's news filter (`any` and `none`; default: any of
 * bitcoin, ethereum); `--all-news` subscribes without one.
 * @module
 */
import { parseArgs } from "node:util";
import type { SubscriptionFilter } from "tickgate/client";
import { DEFAULT_NEWS_FILTER, runClient } from "./client.ts";
import { SEED_PERIODS, start, type Periods } from "./server.ts";
import { closeOnSignal } from "tickgate/bun";

const { values: flags } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string" },
    "period-scale": { type: "string" },
    "no-client": { type: "boolean" },
    keywords: { type: "string" },
    exclude: { type: "string" },
    "all-news": { type: "boolean" },
  },
});
const list = (v: string | undefined) => v?.split(",").map((k) => k.trim()).filter(Boolean);
const any = list(flags.keywords);
const none = list(flags.exclude);
const newsFilter: SubscriptionFilter | null = flags["all-news"]
  ? null
  : any?.length || none?.length
    ? { ...(any?.length ? { any } : {}), ...(none?.length ? { none } : {}) }
    : DEFAULT_NEWS_FILTER;
const scale = Number(flags["period-scale"] ?? process.env.PERIOD_SCALE ?? 1);
const periods = Object.fromEntries(Object.entries(SEED_PERIODS).map(([k, v]) => [k, Math.max(20, Math.round(v * scale))])) as Periods;
const app = await start({
  port: Number(flags.port ?? process.env.PORT ?? 7860),
  host: flags.host ?? process.env.HOST ?? "127.0.0.1",
  periods,
  newsEveryMs: [Math.max(20, 4_000 * scale), Math.max(40, 12_000 * scale)],
}).catch((e: Error) => {
  console.error(`crypto-platform: ${e.message}`); // e.g. the port is taken
  process.exit(2);
});
// Tests and scripts read the port from this line.
console.log(`crypto-platform listening on ${app.wsUrl}`);
// Ctrl-C / SIGTERM: stop the client and the producers, close every connection (1001), exit 0.
// Armed before the client starts, so a signal at any moment from here on shuts down cleanly.
let client: Awaited<ReturnType<typeof runClient>> | undefined;
process.once("exit", (code) => console.log(code === 0 ? "stopped" : `exited with ${code}`));
closeOnSignal(app.server, () => {
  console.log("\nstopping");
  client?.stop();
  return app.stop();
});
client = flags["no-client"] || process.env.NO_CLIENT ? undefined : await runClient(app.wsUrl, { print: (l) => console.log(`   [client] ${l}`), newsFilter });
