/**
 * The crypto data platform (seed 002) on tickgate: five streams on one
 * socket instead of five endpoints.
 *
 *   system.status   monitoring, every 5 s (retained)
 *   market.<SYM>    price update per symbol, every 1 s (retained per symbol, conflated for slow readers)
 *   news            pushed on arrival, tagged with its keywords (filterable server-side)
 *   sentiment       every minute (retained)
 *   models.status   AI-model status, every 10 s (retained)
 *
 * Started by main.ts (`npm run example:crypto-platform`); tests call {@link start}.
 * @module
 */
import type { Logger, TickgateServer } from "tickgate";
import { createServer } from "tickgate/bun";
import { z } from "zod";
import { DEFAULT_SYMBOLS, Market, NewsDesk, modelsStatus, sentiment, SOURCE_CATALOG, type NewsItem, type PriceUpdate } from "./feeds.ts";
import { StatusBoard } from "./status.ts";

export const SEED_PERIODS = { monitoring: 5_000, prices: 1_000, sentiment: 60_000, models: 10_000 };
export type Periods = typeof SEED_PERIODS;
export const TOPICS = ["system.status", "market.*", "news", "sentiment", "models.status"];
export const marketTopic = (symbol: string) => `market.${symbol}`;

/** `news.latest`'s input, checked by the server before the handler runs. */
export const NewsLatest = z.object({
  keywords: z.array(z.string().min(1).max(64)).max(32).optional(),
  limit: z.number().int().min(1).max(100).default(10),
});

export interface CryptoPlatformOptions {
  port?: number;
  host?: string;
  periods?: Partial<Periods>;
  /** Time between news items, [min, max] ms (default 4-12 s); `false`: only {@link CryptoPlatform.pushNews}. */
  newsEveryMs?: readonly [number, number] | false;
  symbols?: string[];
  print?: (line: string) => void;
  random?: () => number;
}

export interface CryptoPlatform {
  server: TickgateServer;
  port: number;
  wsUrl: string;
  symbols: string[];
  /** A news item arrives: published on `news` at once, tagged with its keywords. */
  pushNews(item?: Partial<NewsItem>): NewsItem;
  /** Stops the producers and closes the server (every connection gets 1001). Idempotent. */
  stop(): Promise<void>;
}

/** Warnings and errors of the server (refusals, slow consumers, abuse), printed. */
function problems(print: (line: string) => void): Logger {
  const quiet = () => {};
  return {
    debug: quiet,
    info: quiet,
    warn: (f, msg) => print(`⚠️ ${msg} ${JSON.stringify(f)}`),
    error: (f, msg) => print(`❌ ${msg} ${JSON.stringify(f)}`),
  };
}

export async function start(opts: CryptoPlatformOptions = {}): Promise<CryptoPlatform> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const random = opts.random ?? Math.random;
  const periods = { ...SEED_PERIODS, ...opts.periods };
  const symbols = opts.symbols ?? DEFAULT_SYMBOLS;
  const market = new Market(symbols, random);
  const desk = new NewsDesk(symbols, random);
  const latest = new Map<string, PriceUpdate>();
  const recentNews: NewsItem[] = [];

  const server = createServer(
    {
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? 7860,
      shutdownGraceMs: 1000,
      topics: TOPICS,
      policies: [
        // Prices: the latest value per symbol is what matters. A new subscriber
        // gets every symbol's last price at once; a slow one skips stale ticks.
        { match: "market.*", publish: "server", retain: true, action: "conflate", historySize: 60, limitBytes: 256 * 1024 },
        // News: events, kept for recovery after a reconnect.
        { match: "news", publish: "server", historySize: 500 },
        { match: "system.status", publish: "server", retain: true },
        { match: "sentiment", publish: "server", retain: true, historySize: 10 },
        { match: "models.status", publish: "server", retain: true },
      ],
    },
    { log: problems(print) },
  );
  server.on("open", (c) => print(`🔗 ${c.client} connected: ${c.session} from ${c.remoteAddress}`));
  server.on("close", (c) => c.code !== 1000 && c.code !== 1001 && print(`⚠️ abnormal disconnect: ${c.session} (code ${c.code})`));

  // What system.status reports: sources active within a few of their periods, news desks within 15 minutes.
  const board = new StatusBoard({ market_data: 5 * periods.prices, news: 15 * 60_000, sentiment: 2 * periods.sentiment });
  let running = true;

  // The producers run on timers: tryPublish never throws (a refusal, e.g. while closing, is logged).
  const publishPrices = () => {
    for (const s of symbols) {
      const u = market.next(s);
      latest.set(s, u);
      board.seen(u.source);
      server.tryPublish(marketTopic(s), u, { key: s });
    }
  };

  // The seed's monitoring: sources, models and requests from the platform itself; traffic, CPU
  // and memory from a stats snapshot every 5 s; who is connected from the live counters.
  const publishStatus = () => {
    const st = server.stats(0);
    server.tryPublish("system.status", board.build({ ...st, connections: server.connections, sessions: server.sessions }, running));
  };

  const pushNews = (over: Partial<NewsItem> = {}): NewsItem => {
    const item = { ...desk.next(), ...over };
    board.seen(item.source);
    recentNews.push(item);
    if (recentNews.length > 100) recentNews.shift();
    // The keywords ride along as tags: subscribers filter on them server-side.
    server.tryPublish("news", item, { tags: item.keywords });
    print(`📰 news: ${item.title} [${item.keywords.join(", ")}]`);
    return item;
  };

  // The seed's `get_all`, for a one-off read without subscribing.
  server.handle("market.get_all", () => {
    board.request();
    return { prices: Object.fromEntries(latest) };
  });
  // A one-off read of recent news, with the same `any` semantics as a subscription filter.
  server.handle(
    "news.latest",
    ({ keywords, limit }) => {
      board.request();
      const want = keywords ? new Set(keywords) : null;
      const items = recentNews.filter((n) => !want || n.keywords.some((k) => want.has(k)));
      return { items: items.slice(-limit) };
    },
    { schema: NewsLatest },
  );

  await server.listen();
  const publishSentiment = () => {
    server.tryPublish("sentiment", sentiment(random));
    for (const src of SOURCE_CATALOG.sentiment) board.seen(src);
  };
  const publishModels = () => {
    const m = modelsStatus(random);
    board.models = m; // system.status reports the same models as models.status
    server.tryPublish("models.status", m);
  };
  // First values at once, so nobody waits a whole period for a snapshot.
  publishPrices();
  publishSentiment();
  publishModels();
  publishStatus();

  const timers: ReturnType<typeof setTimeout>[] = [
    setInterval(publishPrices, periods.prices),
    setInterval(publishStatus, periods.monitoring),
    setInterval(publishSentiment, periods.sentiment),
    setInterval(publishModels, periods.models),
  ];
  let newsTimer: ReturnType<typeof setTimeout> | undefined;
  const news = opts.newsEveryMs === undefined ? ([4_000, 12_000] as const) : opts.newsEveryMs;
  if (news) {
    const schedule = () => {
      newsTimer = setTimeout(() => {
        pushNews();
        schedule();
      }, news[0] + random() * (news[1] - news[0]));
    };
    schedule();
  }
  print(
    `🚀 crypto platform: ${symbols.length} symbols; prices every ${periods.prices / 1000}s, monitoring every ${periods.monitoring / 1000}s, ` +
      `models every ${periods.models / 1000}s, sentiment every ${periods.sentiment / 1000}s, news on arrival`,
  );

  let stopping: Promise<void> | undefined;
  return {
    server,
    port: server.port,
    wsUrl: server.wsUrl,
    symbols,
    pushNews,
    stop: () =>
      (stopping ??= (async () => {
        running = false;
        for (const t of timers) clearInterval(t);
        clearTimeout(newsTimer);
        await server.close();
      })()),
  };
}
