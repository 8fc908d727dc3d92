/**
 * Seed 001, the crypto monitoring dashboard, on tickgate: one tickgate
 * server that publishes the `market`, `prices` and `news` channels, a
 * heartbeat, the live connection counts and alerts (price moves, and the
 * operator's `POST /api/alerts`) on `alerts.*`, and serves the dashboard
 * page itself and a drop-in status widget (`/widget.js`) for pages of
 * allowed origins. Stats on request need no code here: the page sends
 * tickgate's own `stats` frame (`client.serverStats()`).
 *
 * Only tickgate's public API is used: `tickgate/bun` (createServer,
 * scriptRoute), `tickgate` (types) and `tickgate/client` (the simulated bots).
 * @module
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { TickgateServer } from "tickgate";
import { createServer, scriptRoute } from "tickgate/bun";
import { TickgateClient, type ClientType } from "tickgate/client";
import { PriceMoves, raiseAlertRoute } from "./alerts.ts";
import { ALERT_TOPICS, CHANNELS, presenceOf, TOPICS, type Heartbeat, type MarketOverview, type NewsItem, type PriceTick } from "./types.ts";

const PAGE_DIR = join(import.meta.dir, "page");

export interface CryptoDashboardOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8081; 0 picks a free port. */
  port?: number;
  /** Price ticks for every symbol, this often (default 500 ms). */
  pricesMs?: number;
  /** Market overview, this often (default 2000 ms). */
  marketMs?: number;
  /** A news item, this often (default 4000 ms). */
  newsMs?: number;
  /** `sys.heartbeat`, this often (default 10 000 ms, as in the seed). */
  heartbeatMs?: number;
  /**
   * Bots connected to the server itself so every client type shows in the
   * status bar: an `api` price consumer and a `mobile` news reader.
   * Default `{ api: 1, mobile: 1 }`.
   */
  simulatedClients?: { api?: number; mobile?: number };
  /** Random source in [0, 1); tests may pass a seeded one. */
  random?: () => number;
  /** A price alert when a symbol moves this much (%) from its last alert (default 1). */
  alertThresholdPct?: number;
  /** The key for `POST /api/alerts` (`Authorization: Bearer <key>`); default: generated, see {@link CryptoDashboard.operatorKey}. */
  operatorKey?: string;
  /**
   * Other origins whose pages may connect, e.g. to show the status widget
   * (`/widget.js`): `["https://intranet.example"]`. The server's own origin is always allowed.
   */
  allowedOrigins?: string[];
}

export interface CryptoDashboard {
  /** The page, e.g. `http://127.0.0.1:8081/`. */
  url: string;
  port: number;
  server: TickgateServer;
  /** The key that `POST /api/alerts` wants. */
  operatorKey: string;
  /** Stops the producers and bots, closes every connection (1001) and stops listening. Idempotent. */
  stop(): Promise<void>;
}

const SYMBOLS: Record<string, { price: number; supply: number }> = {
  BTC: { price: 64_000, supply: 19.7e6 },
  ETH: { price: 3_200, supply: 120e6 },
  SOL: { price: 145, supply: 460e6 },
  XRP: { price: 0.52, supply: 55e9 },
  ADA: { price: 0.45, supply: 35e9 },
  DOGE: { price: 0.15, supply: 144e9 },
};

const NEWS: Record<string, string[]> = {
  bitcoin: ["Bitcoin hashrate reaches a new high", "Spot BTC ETFs see record inflows", "Long-dormant BTC wallet moves coins", "Miners sell less after the halving"],
  ethereum: ["Ethereum gas fees fall to a yearly low", "Staking deposits keep climbing", "Layer-2 activity doubles in a quarter", "Core developers schedule the next upgrade"],
  regulation: ["Regulator publishes stablecoin guidance", "Exchange wins licence in the EU", "Lawmakers debate a crypto tax bill", "Court rules on token classification"],
  defi: ["DEX volume overtakes a major CEX", "Lending protocol raises its collateral limits", "Bridge exploit drains a liquidity pool", "New yield vault attracts deposits"],
};
const SOURCES = ["CoinDesk", "The Block", "Decrypt", "Reuters", "Bloomberg"];

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Builds the page, starts the server, the producers and the bots. */
export async function start(opts: CryptoDashboardOptions = {}): Promise<CryptoDashboard> {
  const rnd = opts.random ?? Math.random;
  const html = await Bun.file(join(PAGE_DIR, "index.html")).text();
  // page/main.ts and the tickgate client it imports, bundled by Bun.build and
  // kept; built once here, so a broken page fails the start, not the first visitor.
  const appJs = scriptRoute(join(PAGE_DIR, "main.ts"));
  const built = await appJs();
  if (!built.ok) throw new Error(`page build failed: ${(await built.json()).error.message}`);

  const server = createServer(
    {
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? 8081,
      shutdownGraceMs: 1000,
      limits: { allowedOrigins: opts.allowedOrigins ?? [] },
      // Advertised in the welcome frame, so any client can discover the channels.
      topics: [...Object.values(CHANNELS), TOPICS.presence, TOPICS.heartbeat, TOPICS.alerts],
      policies: [
        // Ticks: the latest price per symbol is what matters; a slow reader gets that, not a backlog.
        { match: "prices.>", action: "conflate", retain: true, publish: "server", historySize: 200 },
        { match: "market.>", action: "conflate", retain: true, publish: "server", historySize: 20 },
        // News: every item counts; the last per category is the snapshot, history covers a reconnect.
        { match: "news.>", action: "drop", retain: true, publish: "server", historySize: 100, historyTtlMs: 600_000 },
        { match: "sys.>", action: "conflate", retain: true, publish: "server" },
        // Alerts: every one counts (a bot that reconnects replays what it missed); only the server raises them.
        { match: "alerts.>", action: "drop", publish: "server", historySize: 100, historyTtlMs: 3_600_000 },
      ],
    },
  );
  // The example's page, in front of tickgate's own routes (/sse, /stats, /health, ...).
  const page = () => new Response(html, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
  server.route("GET", "/", page).route("HEAD", "/", page).route("GET", "/app.js", appJs);
  // The drop-in widget, for other pages: a classic script (loaded cross-origin without CORS), wrapped so it adds no globals.
  const widgetJs = scriptRoute(join(PAGE_DIR, "widget.ts"));
  const widgetBuilt = await widgetJs();
  if (!widgetBuilt.ok) throw new Error(`widget build failed: ${(await widgetBuilt.json()).error.message}`);
  const widget = `(function () {\n${await widgetBuilt.text()}\n})();\n`;
  server.route("GET", "/widget.js", () => new Response(widget, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } }));

  // Producers on timers: tryPublish never throws (a refusal, e.g. while closing, is logged).
  const publish = (topic: string, data: unknown, key?: string) => {
    if (!server.closing) server.tryPublish(topic, data, key === undefined ? {} : { key });
  };
  const timers: ReturnType<typeof setInterval>[] = [];
  const every = (ms: number, fn: () => void) => {
    fn();
    timers.push(setInterval(fn, ms));
  };

  // ---- alerts: price moves over the threshold, and the operator's ----
  const operatorKey = opts.operatorKey ?? randomBytes(24).toString("base64url");
  const moves = new PriceMoves(opts.alertThresholdPct ?? 1);
  const publishAlert = (topic: string, a: unknown) => (server.closing ? undefined : server.tryPublish(topic, a));
  server.route("POST", "/api/alerts", raiseAlertRoute(operatorKey, publishAlert));

  // ---- prices: a random walk per symbol ----
  const prices = new Map<string, PriceTick>();
  const open24h = new Map<string, number>();
  for (const [symbol, { price }] of Object.entries(SYMBOLS)) {
    open24h.set(symbol, price * (1 + (rnd() - 0.5) * 0.08));
    prices.set(symbol, { symbol, price, change24h: 0, volume24h: price * SYMBOLS[symbol]!.supply * 0.03, ts: Date.now() });
  }
  const tickPrices = () => {
    for (const t of prices.values()) {
      const price = t.price * (1 + (rnd() - 0.5) * 0.004);
      const digits = price < 1 ? 5 : 2;
      const tick: PriceTick = {
        symbol: t.symbol,
        price: round(price, digits),
        change24h: round(((price - open24h.get(t.symbol)!) / open24h.get(t.symbol)!) * 100, 2),
        volume24h: Math.round(t.volume24h * (1 + (rnd() - 0.45) * 0.002)),
        ts: Date.now(),
      };
      prices.set(t.symbol, tick);
      publish(`prices.${t.symbol}`, tick, t.symbol);
      const alert = moves.check(tick);
      if (alert) publishAlert(ALERT_TOPICS.price, alert);
    }
  };

  // ---- market overview, derived from the prices ----
  let fearGreed = 55;
  const tickMarket = () => {
    let cap = 0;
    let volume = 0;
    for (const t of prices.values()) {
      cap += t.price * SYMBOLS[t.symbol]!.supply;
      volume += t.volume24h;
    }
    // The listed symbols are about 80% of the whole market.
    const total = cap / 0.8;
    fearGreed = Math.min(100, Math.max(0, fearGreed + Math.round((rnd() - 0.5) * 6)));
    const m: MarketOverview = {
      totalMarketCap: Math.round(total),
      totalVolume24h: Math.round(volume / 0.8),
      btcDominance: round(((prices.get("BTC")!.price * SYMBOLS.BTC!.supply) / total) * 100, 2),
      fearGreed,
      ts: Date.now(),
    };
    publish("market.overview", m, "overview");
  };

  // ---- news ----
  let newsSeq = 0;
  const categories = Object.keys(NEWS);
  const tickNews = () => {
    const category = categories[Math.floor(rnd() * categories.length)]!;
    const titles = NEWS[category]!;
    const item: NewsItem = {
      id: `n${Date.now().toString(36)}-${++newsSeq}`,
      category,
      title: titles[Math.floor(rnd() * titles.length)]!,
      source: SOURCES[Math.floor(rnd() * SOURCES.length)]!,
      sentiment: round(rnd() * 2 - 1, 2),
      ts: Date.now(),
    };
    publish(`news.${category}`, item, category);
  };

  // ---- heartbeat and presence ----
  const startedAt = Date.now();
  const heartbeatMs = opts.heartbeatMs ?? 10_000;
  const tickHeartbeat = () => {
    const h: Heartbeat = { ts: Date.now(), uptimeSec: Math.round((Date.now() - startedAt) / 1000), intervalMs: heartbeatMs };
    publish(TOPICS.heartbeat, h);
  };
  // Presence: republished when a connection opens or closes. The counters
  // are already up to date in the listener; several changes in one turn
  // (a burst of tabs, the shutdown) make one publication.
  let lastPresence = "";
  let presenceQueued = false;
  const publishPresence = () => {
    presenceQueued = false;
    const p = presenceOf({ connections: server.connections, sessions: server.sessions });
    const counts = JSON.stringify([p.usersOnline, p.activeSessions, p.byClient]);
    if (counts === lastPresence) return;
    lastPresence = counts;
    publish(TOPICS.presence, p);
  };
  const presenceChanged = () => {
    if (presenceQueued) return;
    presenceQueued = true;
    queueMicrotask(publishPresence);
  };
  server.on("open", presenceChanged);
  server.on("close", presenceChanged);

  await server.listen();
  publishPresence(); // the retained value exists before anyone asks

  every(opts.pricesMs ?? 500, tickPrices);
  every(opts.marketMs ?? 2000, tickMarket);
  every(opts.newsMs ?? 4000, tickNews);
  every(heartbeatMs, tickHeartbeat);

  // ---- bots of the other client types, through the public client SDK ----
  const wsUrl = server.wsUrl;
  const bots: TickgateClient[] = [];
  const bot = (clientType: ClientType, pattern: string) => {
    const c = new TickgateClient(wsUrl, { clientType, heartbeatMs: 10_000 });
    c.on("error", () => {}); // a bot has nobody to tell; it reconnects on its own
    c.subscribe(pattern, () => {});
    bots.push(c.connect());
  };
  const sim = opts.simulatedClients ?? { api: 1, mobile: 1 };
  for (let i = 0; i < (sim.api ?? 0); i++) bot("api", CHANNELS.prices);
  for (let i = 0; i < (sim.mobile ?? 0); i++) bot("mobile", CHANNELS.news);

  let stopping: Promise<void> | undefined;
  return {
    url: `${server.url}/`,
    port: server.port,
    server,
    operatorKey,
    stop: () =>
      (stopping ??= (async () => {
        for (const t of timers) clearInterval(t);
        for (const c of bots) c.close();
        await server.close();
      })()),
  };
}
