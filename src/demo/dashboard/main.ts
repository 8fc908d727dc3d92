/**
 * The live dashboard's script (served bundled as `/dashboard.js`): one
 * TickgateClient, subscribed to the demo feeds, feeding the page's panels;
 * the server panel asks the server for its stats every 2 s. When the server
 * refuses for want of a token, the page says so and takes one (kept in
 * sessionStorage for this tab, never in the URL).
 * `?encoding=json` or `?encoding=msgpack` (the default) picks the wire encoding.
 * @module
 */
import { TickgateClient, type Encoding, type MessageMeta } from "../../client/index.ts";
import type { DeviceStatus, Telemetry } from "../feeds/devices.ts";
import type { Tick } from "../feeds/market.ts";
import { DeviceTable, deviceId } from "./devices.ts";
import { byId } from "./dom.ts";
import { PriceTable } from "./prices.ts";
import { ServerPanel, TopicRates } from "./stats.ts";
import { StatusBar } from "./status.ts";

const asked = new URLSearchParams(location.search).get("encoding");
const encoding: Encoding = asked === "json" ? "json" : "msgpack";
const wsPath = document.querySelector<HTMLMetaElement>('meta[name="tickgate-ws-path"]')?.content || "/ws";

const bar = new StatusBar(encoding);
const prices = new PriceTable(byId("prices").querySelector("tbody")!);
const devices = new DeviceTable(byId("devices").querySelector("tbody")!, byId("fleet"));
const server = new ServerPanel();
const rates = new TopicRates(byId("rates"));

const TOKEN_KEY = "tickgate-token";
const token = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
const REFUSALS = new Set(["UNAUTHORIZED", "FORBIDDEN", "TOKEN_EXPIRED"]);

const client = new TickgateClient(new URL(wsPath, location.href).href, {
  encoding,
  ...(token ? { token } : {}),
  clientType: "browser",
  // A dashboard should come back soon after a server restart.
  reconnect: { maxDelayMs: 3000 },
});
client.on("state", (s) => bar.state(s));
client.on("mode", (m) => bar.mode(m));
client.on("welcome", (w) => bar.welcome(w, client.mode === "sse" ? client.httpUrl : client.url));
client.on("retry", ({ attempt, delayMs }) => bar.retry(attempt, delayMs));
client.on("error", (e) => {
  console.warn("tickgate:", e.code, e.message);
  // Refused for want of a (valid) token: not "connected" in any useful sense.
  // Refused for the page's origin: final, the client does not retry.
  if (e.code === "ORIGIN_NOT_ALLOWED") bar.blocked(`${e.code}: ${e.message}`);
  else if (REFUSALS.has(e.code)) bar.refused(`${e.code}: ${e.message}`, token !== undefined);
  else if (client.state === "connected") bar.notice(`${e.code}: ${e.message}`, true);
});

byId<HTMLFormElement>("auth").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const value = byId<HTMLInputElement>("token").value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});

/** The server's own stats, so the panel works without the demo's feeds. */
async function pollStats(): Promise<void> {
  if (client.state !== "connected") return;
  try {
    server.update(await client.serverStats({ timeoutMs: 5000 }), Date.now());
  } catch (e) {
    console.warn("tickgate: stats:", (e as Error).message);
  }
}

/** Counts every message for the topic rates, then hands it on. */
function counted<T>(fn: (data: T, meta: Readonly<MessageMeta>) => void) {
  return (data: T, meta: Readonly<MessageMeta>) => {
    rates.count(meta.topic);
    fn(data, meta);
  };
}

client.subscribe<Tick>("prices.*", counted((t) => prices.update(t)));
client.subscribe<Telemetry>("devices.*.telemetry", counted((t, m) => devices.telemetry(deviceId(m.topic), t)));
client.subscribe<DeviceStatus>("devices.*.status", counted((s, m) => devices.status(deviceId(m.topic), s)));
client.on("state", (s) => {
  if (s === "connected") void pollStats();
});

if (asked !== null && asked !== encoding) bar.note(`Unknown encoding '${asked}': using msgpack (try ?encoding=json or ?encoding=msgpack).`);
bar.mode(client.mode);
client.connect();

setInterval(() => {
  const now = Date.now();
  devices.tick(now);
  rates.render(now);
  bar.tick(client.stats());
}, 1000);
setInterval(() => void pollStats(), 2000);

/** For the browser console: `tickgate.stats()`, `tickgate.mode`. */
(globalThis as { tickgate?: TickgateClient }).tickgate = client;
