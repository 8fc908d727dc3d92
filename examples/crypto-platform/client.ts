/**
 * A crypto-platform client on the tickgate SDK: a few symbols first, then
 * all of them with `market.*` (their last prices arrive at once), the news
 * through a keyword filter the server applies, the sentiment, model and
 * monitoring streams, the typed errors a client can get, and the client's
 * own stats (messages/s, reconnects).
 *
 *   bun examples/crypto-platform/client.ts [ws://127.0.0.1:7860/ws] [keyword,keyword...]
 * @module
 */
import { TickgateClient, TickgateClientError, type Subscription, type SubscriptionFilter } from "tickgate/client";
import type { NewsItem, PriceUpdate } from "./feeds.ts";

export interface ClientRun {
  client: TickgateClient;
  stop(): void;
}

export interface ClientRunOptions {
  print?: (line: string) => void;
  /** When to switch from a few symbols to `market.*` (default 3 s). */
  allAfterMs?: number;
  /** How often to print the price table and the client's stats (default 10 s). */
  reportEveryMs?: number;
  /**
   * Which news this client wants, matched by the server against each item's
   * keywords (its tags): the seed's `{"action":"filter","keywords":[...]}`.
   * Default {@link DEFAULT_NEWS_FILTER}; `null` for all news.
   */
  newsFilter?: SubscriptionFilter | null;
}

/** The demo client's news: anything about bitcoin or ethereum. */
export const DEFAULT_NEWS_FILTER: SubscriptionFilter = { any: ["bitcoin", "ethereum"] };

type Row = Record<string, any>;
const pct = (x: number) => `${x >= 0 ? "+" : ""}${x}%`;

export async function runClient(url: string, opts: ClientRunOptions = {}): Promise<ClientRun> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const client = new TickgateClient(url, { encoding: "msgpack", clientType: "api", reconnect: { maxAttempts: 20 } });
  client.on("state", (s) => print(`connection: ${s}`));
  client.on("gap", (g) => print(`gap on ${g.subscription}: ${g.type}${g.type === "gap" ? ` ${g.reason} ${g.count}` : ` ${g.reason}`}`));
  client.on("error", (e) => print(`error ${e.code}: ${e.message}`));
  client.connect();
  await client.ready();
  print(`welcome: topics [${client.welcome?.topics?.join(", ")}], methods [${client.welcome?.methods.join(", ")}]`);

  // 1. A few symbols.
  const few: Subscription[] = ["BTC", "ETH"].map((s) =>
    client.subscribe<PriceUpdate>(`market.${s}`, (p) => print(`${p.symbol} ${p.price} (${pct(p.change_24h)} 24h, ${pct(p.change_7d)} 7d) vol ${p.volume_24h} via ${p.source}`)),
  );

  // 2. Everything else the platform streams.
  // The seed guide's fields: sources and models (a field the platform has nothing for is null).
  client.subscribe<Row>("system.status", (s) =>
    print(
      `monitoring: ${s.stats.connections} connected ${JSON.stringify(s.stats.sessions)}, sources ${s.stats.active_sources}/${s.stats.total_sources}, ` +
        `models ${s.stats.available_models ?? "?"}/${s.stats.total_models ?? "?"}, requests ${s.stats.requests_last_minute}/min ${s.stats.requests_last_hour}/h`,
    ),
  );
  client.subscribe<Row>("sentiment", (s) => print(`sentiment: fear & greed ${s.fear_greed.value} (${s.fear_greed.classification}), market ${s.market.overall}`));
  client.subscribe<Row>("models.status", (m) => print(`models: ${m.available} available, ${m.loading} loading, ${m.failed} failed`));
  // The keyword filter runs on the server, once per distinct filter: items that do not pass never reach this client.
  const newsFilter = opts.newsFilter === undefined ? DEFAULT_NEWS_FILTER : opts.newsFilter;
  const news = client.subscribe<NewsItem>("news", (n, { tags }) => print(`news: ${n.title} [${(tags ?? []).join(", ")}] ${n.sentiment} ${n.sentiment_score}`), newsFilter ? { filter: newsFilter } : {});
  print(`news filter: ${newsFilter ? `${JSON.stringify(news.filter)}, applied by the server` : "none, every item"}`);

  // 3. Errors come back typed, with the server's code.
  const tries: [string, () => Promise<unknown>][] = [
    ["publish to market.BTC (server-only topic)", () => client.publish("market.BTC", { price: 1 })],
    ["publish to market.* (a pattern)", () => client.publish("market.*", { price: 1 })],
    ["request market.history (no such method)", () => client.request("market.history", { symbol: "BTC" })],
  ];
  for (const [what, call] of tries) {
    try {
      await call();
      print(`${what}: accepted?!`);
    } catch (e) {
      if (e instanceof TickgateClientError) print(`${what} → ${e.code}`);
      else throw e;
    }
  }

  // 4. Later, every symbol: the last price of each arrives at once, then live updates.
  const table = new Map<string, PriceUpdate>();
  const allTimer = setTimeout(() => {
    for (const off of few) off();
    client.subscribe<PriceUpdate>("market.*", (p) => {
      if (!table.has(p.symbol)) print(`market.* → ${p.symbol} ${p.price}`);
      table.set(p.symbol, p);
    });
  }, opts.allAfterMs ?? 3_000);

  const report = setInterval(() => {
    if (table.size > 0) print(`prices: ${[...table.values()].map((p) => `${p.symbol} ${p.price}`).join("  ")}`);
    const s = client.stats();
    print(`client stats: ${s.messages} messages, ${s.messagesPerSec.toFixed(1)}/s, ${s.reconnects} reconnects, ${s.gaps} gaps`);
  }, opts.reportEveryMs ?? 10_000);

  return {
    client,
    stop() {
      clearTimeout(allTimer);
      clearInterval(report);
      client.close();
    },
  };
}

if (import.meta.main) {
  const keywords = process.argv[3]?.split(",").filter(Boolean);
  const run = await runClient(process.argv[2] ?? "ws://127.0.0.1:7860/ws", keywords?.length ? { newsFilter: { any: keywords } } : {});
  const stop = () => {
    run.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
