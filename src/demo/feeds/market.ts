/**
 * Demo producers: random-walk market ticks and server stats, published
 * through the same `publish` any producer uses.
 * @module
 */
import type { TickgateServer } from "../../core/server.ts";

export const DEFAULT_SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD"];
const START: Record<string, number> = { "BTC-USD": 64000, "ETH-USD": 3100, "SOL-USD": 145, "XRP-USD": 0.52, "ADA-USD": 0.45, "DOGE-USD": 0.12 };

export interface Tick {
  symbol: string;
  bid: number;
  ask: number;
  last: number;
  volume: number;
  change24h: number;
  ts: number;
}

export interface MarketFeedOptions {
  symbols?: string[];
  /** Ticks per second across all symbols. */
  rate?: number;
}

/** Starts publishing ticks on `prices.<SYMBOL>`; returns a stop function. */
export function startMarketFeed(server: TickgateServer, opts: MarketFeedOptions = {}): () => void {
  const symbols = opts.symbols ?? DEFAULT_SYMBOLS;
  const rate = opts.rate ?? 20;
  const state = symbols.map((s) => {
    const open = START[s] ?? 100;
    return { symbol: s, open, last: open, volume: 0 };
  });
  let i = 0;
  const timer = setInterval(() => {
    const st = state[i++ % state.length]!;
    st.last = Math.max(st.last * (1 + (Math.random() - 0.5) * 0.002), 0.0001);
    st.volume += Math.random() * 10;
    const spread = st.last * 0.0002;
    const tick: Tick = {
      symbol: st.symbol,
      bid: st.last - spread / 2,
      ask: st.last + spread / 2,
      last: st.last,
      volume: Math.round(st.volume * 100) / 100,
      change24h: ((st.last - st.open) / st.open) * 100,
      ts: Date.now(),
    };
    server.publish(`prices.${st.symbol}`, tick, { key: st.symbol });
  }, Math.max(1, Math.round(1000 / rate)));
  return () => clearInterval(timer);
}

/** Publishes a compact stats summary on `system.stats` every `intervalMs`. */
export function startSystemStatsFeed(server: TickgateServer, intervalMs = 2000): () => void {
  const timer = setInterval(() => {
    const s = server.stats(0);
    server.publish("system.stats", {
      connections: s.connections,
      sessions: s.sessions,
      publications: s.messages.publications,
      deliveries: s.messages.deliveries,
      cpu: s.cpu.percent,
      rss: s.memory.rss,
      uptimeSec: s.server.uptimeSec,
    });
  }, intervalMs);
  return () => clearInterval(timer);
}
