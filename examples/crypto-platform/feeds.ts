/**
 * Simulated data for the crypto platform (seed 002): prices per symbol,
 * news items with keywords, market sentiment and AI-model status. Pure
 * data, no I/O; `random` is injectable.
 * @module
 */

export interface PriceUpdate {
  symbol: string;
  price: number;
  /** % change against the price 24 h ago. */
  change_24h: number;
  /** % change against the price 7 d ago. */
  change_7d: number;
  volume_24h: number;
  market_cap: number;
  source: string;
  timestamp: string;
}

export interface NewsItem {
  title: string;
  description: string;
  url: string;
  source: string;
  published_at: string;
  sentiment: "positive" | "neutral" | "negative";
  sentiment_score: number;
  /** The story's picture; `null` when its source gave none (The Block's items here). */
  image_url: string | null;
  /** Each keyword once. Also the publication's tags: what keyword filters select on. */
  keywords: string[];
}

/**
 * Every source the simulation draws from, by category: the prices'
 * exchanges, the news desks and the sentiment inputs. `system.status`
 * counts these and marks one active when it has produced within its window.
 */
export const SOURCE_CATALOG = {
  market_data: ["binance", "coinbase", "kraken"],
  news: ["CoinDesk", "The Block", "Decrypt"],
  sentiment: ["alternative.me fear & greed", "twitter", "reddit"],
} as const;
export type SourceCategory = keyof typeof SOURCE_CATALOG;

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const iso = () => new Date().toISOString();

const COINS: Record<string, { name: string; price: number; supply: number; keyword: string }> = {
  BTC: { name: "Bitcoin", price: 43_250.5, supply: 19_600_000, keyword: "bitcoin" },
  ETH: { name: "Ethereum", price: 2_310.2, supply: 120_200_000, keyword: "ethereum" },
  SOL: { name: "Solana", price: 98.4, supply: 434_000_000, keyword: "solana" },
  BNB: { name: "BNB", price: 312.7, supply: 153_800_000, keyword: "bnb" },
  XRP: { name: "XRP", price: 0.62, supply: 54_000_000_000, keyword: "xrp" },
  ADA: { name: "Cardano", price: 0.55, supply: 35_000_000_000, keyword: "cardano" },
};
export const DEFAULT_SYMBOLS = Object.keys(COINS);
const SOURCES = SOURCE_CATALOG.market_data;

export class Market {
  readonly #state = new Map<string, { price: number; ago24h: number; ago7d: number; supply: number; volume: number }>();
  constructor(
    readonly symbols: string[] = DEFAULT_SYMBOLS,
    readonly random: () => number = Math.random,
  ) {
    for (const s of symbols) {
      const c = COINS[s] ?? { price: 1 + random() * 100, supply: 1e9 };
      this.#state.set(s, {
        price: c.price,
        ago24h: c.price * (1 + (random() - 0.5) * 0.08),
        ago7d: c.price * (1 + (random() - 0.5) * 0.2),
        supply: c.supply,
        volume: c.price * c.supply * (0.02 + random() * 0.03),
      });
    }
  }

  /** The next update of one symbol: a small random walk. */
  next(symbol: string): PriceUpdate {
    const s = this.#state.get(symbol)!;
    s.price = s.price * (1 + (this.random() - 0.5) * 0.004);
    s.volume = s.volume * (1 + (this.random() - 0.45) * 0.01);
    const digits = s.price < 10 ? 4 : 2;
    return {
      symbol,
      price: round(s.price, digits),
      change_24h: round(((s.price - s.ago24h) / s.ago24h) * 100),
      change_7d: round(((s.price - s.ago7d) / s.ago7d) * 100),
      volume_24h: Math.round(s.volume),
      market_cap: Math.round(s.price * s.supply),
      source: SOURCES[Math.floor(this.random() * SOURCES.length)]!,
      timestamp: iso(),
    };
  }
}

const HEADLINES: [string, string[], NewsItem["sentiment"]][] = [
  ["{coin} reaches a new monthly high", ["price", "rally"], "positive"],
  ["Regulators publish new rules on {coin} exchanges", ["regulation"], "negative"],
  ["{coin} network upgrade goes live", ["upgrade", "defi"], "positive"],
  ["Analysts split on where {coin} goes next", ["analysis"], "neutral"],
  ["Large {coin} transfer moves to an exchange", ["whales"], "negative"],
];

export class NewsDesk {
  #n = 0;
  constructor(
    readonly symbols: string[] = DEFAULT_SYMBOLS,
    readonly random: () => number = Math.random,
  ) {}

  next(): NewsItem {
    const sym = this.symbols[Math.floor(this.random() * this.symbols.length)]!;
    const coin = COINS[sym] ?? { name: sym, keyword: sym.toLowerCase() };
    const [title, extra, sentiment] = HEADLINES[Math.floor(this.random() * HEADLINES.length)]!;
    const score = sentiment === "positive" ? 0.6 + this.random() * 0.4 : sentiment === "negative" ? this.random() * 0.4 : 0.4 + this.random() * 0.2;
    const n = ++this.#n;
    const source = SOURCE_CATALOG.news[n % 3]!;
    return {
      title: title.replace("{coin}", coin.name),
      description: `${coin.name} (${sym}): story ${n} of the simulated news desk.`,
      url: `https://news.example/${n}`,
      source,
      published_at: iso(),
      sentiment,
      sentiment_score: round(score),
      image_url: source === "The Block" ? null : `https://news.example/${n}/image.jpg`,
      // "bnb" is both the coin's keyword and its symbol: listed once.
      keywords: [...new Set([coin.keyword, sym.toLowerCase(), ...extra])],
    };
  }
}

export function sentiment(random: () => number = Math.random): Record<string, unknown> {
  const fg = Math.round(random() * 100);
  const cls = fg < 25 ? "Extreme Fear" : fg < 45 ? "Fear" : fg < 55 ? "Neutral" : fg < 75 ? "Greed" : "Extreme Greed";
  const mood = (s: number) => (s > 0.6 ? "bullish" : s < 0.4 ? "bearish" : "neutral");
  const tw = round(random());
  const rd = round(random());
  const overall = round((tw + rd) / 2);
  return {
    fear_greed: { value: fg, classification: cls, timestamp: iso() },
    social: {
      twitter: { sentiment: mood(tw), score: tw, mentions: Math.round(5_000 + random() * 20_000) },
      reddit: { sentiment: mood(rd), score: rd, mentions: Math.round(2_000 + random() * 10_000) },
    },
    market: { overall: mood(overall), confidence: round(0.5 + random() * 0.5) },
  };
}

const MODELS = [
  { id: "ElKulako/CryptoBERT", type: "sentiment" },
  { id: "ProsusAI/finbert", type: "sentiment" },
  { id: "price-forecast-lstm", type: "forecast" },
  { id: "news-summarizer", type: "summarization" },
];

export interface ModelStatus {
  id: string;
  type: string;
  status: "available" | "loading" | "failed";
  success_rate: number;
  avg_response_time: number;
  last_used: string;
}

/** `models.status`: the seed's AI-model summary and list. */
export interface ModelsStatus {
  total: number;
  available: number;
  loading: number;
  failed: number;
  models: ModelStatus[];
}

export function modelsStatus(random: () => number = Math.random): ModelsStatus {
  const models = MODELS.map((m): ModelStatus => {
    const r = random();
    return {
      ...m,
      status: r < 0.05 ? "failed" : r < 0.15 ? "loading" : "available",
      success_rate: round(95 + random() * 5, 1),
      avg_response_time: Math.round(80 + random() * 200),
      last_used: iso(),
    };
  });
  const count = (s: string) => models.filter((m) => m.status === s).length;
  return { total: models.length, available: count("available"), loading: count("loading"), failed: count("failed"), models };
}
