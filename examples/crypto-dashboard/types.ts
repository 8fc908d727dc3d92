/**
 * What the crypto dashboard's server publishes, shared by the server
 * (`server.ts`) and the page (`page/main.ts`): types, topic names, and how
 * the seed's counts are read from tickgate's connection counters.
 * @module
 */
import type { ClientType } from "tickgate/client";

/** The seed's channels, as tickgate subscriptions. `all` is every topic. */
export const CHANNELS = {
  market: "market.*",
  prices: "prices.*",
  news: "news.*",
  all: ">",
} as const;
export type Channel = keyof typeof CHANNELS;
/** The three data channels (`all` is their union, not a channel of its own). */
export type DataChannel = Exclude<Channel, "all">;
export const DATA_CHANNELS: readonly DataChannel[] = ["market", "prices", "news"];

/** The seed's typed events (`wsClient.on('price_update', fn)`), one per channel. */
export const EVENT_OF = { market: "market_update", prices: "price_update", news: "news_update" } as const;

/** Topics outside the three channels. */
export const TOPICS = {
  /** Online users, sessions and client types, retained, republished whenever they change. */
  presence: "sys.presence",
  /** Every `heartbeatMs` (10 s by default, as in the seed). */
  heartbeat: "sys.heartbeat",
  /** Alerts, the seed's `alerts` group: `alerts.price` (moves over the threshold) and `alerts.operator` (raised by hand). */
  alerts: "alerts.*",
} as const;

/** Where each kind of alert is published. */
export const ALERT_TOPICS = { price: "alerts.price", operator: "alerts.operator" } as const;

export type AlertLevel = "info" | "warning" | "critical";

/** One alert, as a chat bot receives it. `message` is the line the seed's bot sent to the chat. */
export interface Alert {
  id: string;
  kind: keyof typeof ALERT_TOPICS;
  level: AlertLevel;
  message: string;
  /** The symbol it is about, if any. */
  symbol?: string;
  /** For price moves: the price now, the price it moved from, and the move in %. */
  price?: number;
  from?: number;
  changePct?: number;
  ts: number;
}

export interface MarketOverview {
  /** USD */
  totalMarketCap: number;
  /** USD, last 24 h */
  totalVolume24h: number;
  /** % of the total market cap */
  btcDominance: number;
  /** 0 (fear) – 100 (greed) */
  fearGreed: number;
  ts: number;
}

export interface PriceTick {
  symbol: string;
  /** USD */
  price: number;
  /** % over 24 h */
  change24h: number;
  /** USD, last 24 h */
  volume24h: number;
  ts: number;
}

export interface NewsItem {
  id: string;
  category: string;
  title: string;
  source: string;
  /** −1 (bearish) … +1 (bullish) */
  sentiment: number;
  ts: number;
}

/** The seed's connection counts, from the server's own session table. */
export interface Presence {
  /** People: browser tabs and mobile apps. */
  usersOnline: number;
  /** Every open connection (WebSocket or SSE), bots included. */
  activeSessions: number;
  byClient: { browser: number; api: number; mobile: number };
  ts: number;
}

export interface Heartbeat {
  ts: number;
  uptimeSec: number;
  intervalMs: number;
}

/** What the seed kept as a session's `metadata`; the page sends it in its `hello` (`meta`), and `stats` shows it back. */
export const SESSION_META = { source: "unified_dashboard" } as const;

/** Connections open now, by client type: `server.connections` / `server.sessions`, or a `stats` answer. */
export interface Counts {
  connections: number;
  sessions: Record<ClientType, number>;
}

/** The seed's counts, from tickgate's connection counters: the same rule on the server's pushes and the page's requests. */
export function presenceOf(s: Counts, ts = Date.now()): Presence {
  return {
    usersOnline: s.sessions.browser + s.sessions.mobile,
    activeSessions: s.connections,
    byClient: { browser: s.sessions.browser, api: s.sessions.api, mobile: s.sessions.mobile },
    ts,
  };
}

export interface ChannelEvents {
  market_update: MarketOverview;
  price_update: PriceTick;
  news_update: NewsItem;
}
