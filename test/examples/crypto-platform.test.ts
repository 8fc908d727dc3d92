/**
 * examples/crypto-platform (seed 002) end to end: the example's `start()`
 * on port 0 with short periods, SDK clients (with the server-side keyword
 * filter), a raw protocol client for the wire frame, and the one command it
 * is run with.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { TickgateClient, TickgateClientError, type SubscriptionFilter } from "tickgate/client";
import { DEFAULT_NEWS_FILTER, runClient } from "../../examples/crypto-platform/client.ts";
import type { NewsItem, PriceUpdate } from "../../examples/crypto-platform/feeds.ts";
import { start, TOPICS, type CryptoPlatform } from "../../examples/crypto-platform/server.ts";
import { connect, type Frame } from "../helpers/client.ts";

const ROOT = join(import.meta.dir, "..", "..");
const FAST = { monitoring: 100, prices: 50, sentiment: 150, models: 120 };
const SLOW = { monitoring: 60_000, prices: 60_000, sentiment: 60_000, models: 60_000 };
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function app(opts: Parameters<typeof start>[0] = {}): Promise<CryptoPlatform> {
  const a = await start({ port: 0, periods: FAST, newsEveryMs: false, print: () => {}, ...opts });
  cleanup.push(() => a.stop());
  return a;
}

async function client(a: CryptoPlatform): Promise<TickgateClient> {
  const c = new TickgateClient(a.wsUrl, { reconnect: { maxAttempts: 1 } });
  cleanup.push(() => c.close());
  c.connect();
  await c.ready(3000);
  return c;
}

/** The first `n` publications on `topic` that pass `pred`; `.ready()` resolves once the subscription is acknowledged. */
function take<T = any>(c: TickgateClient, topic: string, n = 1, pred: (d: T, topic: string) => boolean = () => true, timeoutMs = 20_000): Promise<T[]> & { ready(): Promise<void> } {
  const got: T[] = [];
  let ready!: () => Promise<void>;
  const p = new Promise<T[]>((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`only ${got.length}/${n} on ${topic} within ${timeoutMs} ms`))), timeoutMs);
    const off = c.subscribe<T>(topic, (d, meta) => {
      if (!pred(d, meta.topic)) return;
      got.push(d);
      if (got.length === n) {
        clearTimeout(timer);
        off();
        resolve(got);
      }
    });
    ready = () => off.ready();
  });
  return Object.assign(p, { ready });
}

describe("crypto-platform example", () => {
  test("the welcome frame lists the five streams and the request methods", async () => {
    const c = await client(await app());
    expect(c.welcome?.topics).toEqual(TOPICS);
    expect(c.welcome?.methods).toEqual(expect.arrayContaining(["market.get_all", "news.latest"]));
  });

  test("price_update per symbol on market.<SYMBOL>, on its period, with the seed's fields", async () => {
    const a = await app();
    const c = await client(a);
    const topics: string[] = [];
    const ticks = await take<PriceUpdate>(c, "market.BTC", 4, (_d, topic) => (topics.push(topic), true));
    expect(new Set(topics)).toEqual(new Set(["market.BTC"]));
    for (const p of ticks) {
      expect(p).toMatchObject({ symbol: "BTC", price: expect.any(Number), change_24h: expect.any(Number), change_7d: expect.any(Number), volume_24h: expect.any(Number), market_cap: expect.any(Number) });
      expect(["binance", "coinbase", "kraken"]).toContain(p.source);
    }
    const times = ticks.map((p) => Date.parse(p.timestamp));
    expect(times[3]! - times[1]!).toBeGreaterThanOrEqual(60); // two 50 ms periods (less timer jitter)
  });

  test("market.* gets the last price of every symbol at once (retained), the seed's get_all", async () => {
    const a = await app({ periods: SLOW }); // nothing more is due for a minute
    const c = await client(a);
    const all = await c.request<{ prices: Record<string, PriceUpdate> }>("market.get_all");
    const snapshot = await take<PriceUpdate>(c, "market.*", a.symbols.length);
    expect(new Set(snapshot.map((p) => p.symbol))).toEqual(new Set(a.symbols));
    for (const p of snapshot) expect(p).toEqual(all.prices[p.symbol]!);
  });

  test("monitoring, sentiment and model status arrive on their periods", async () => {
    const a = await app();
    const c = await client(a);
    const [status, sentiment, models] = await Promise.all([take<any>(c, "system.status", 3), take<any>(c, "sentiment", 2), take<any>(c, "models.status", 2)]);
    expect(status.at(-1)).toMatchObject({ stats: { connections: 1, sessions: { api: 1 } }, database: null, agent_running: true });
    expect(sentiment[1]).toMatchObject({ fear_greed: { value: expect.any(Number) }, market: { overall: expect.any(String) } });
    expect(models[1]).toMatchObject({ total: 4, models: expect.any(Array) });
  });

  // Issue 15: the fields every client in the seed's integration guide displays.
  test("system.status carries the seed's fields, from what the platform has: sources, models, requests answered", async () => {
    const a = await app({ periods: { ...FAST, sentiment: 60_000 } });
    const c = await client(a);
    // Requests answered: two over the socket, one over HTTP; then one news item (desk source "The Block").
    await c.request("market.get_all");
    await c.request("news.latest", { keywords: ["bitcoin"] });
    const http = await fetch(`${a.server.url}/api/request/market.get_all`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(http.status).toBe(200);
    const pushed = a.pushNews();
    const [models] = await take<any>(c, "models.status", 1);
    const [st] = await take<any>(c, "system.status", 1, (d) => d.stats.requests_last_hour === 3 && d.data_sources.categories.news.active === 1 && d.stats.available_models === models.available);
    expect(st.stats).toMatchObject({ total_sources: 9, total_models: 4, available_models: models.available, requests_last_minute: 3, requests_last_hour: 3 });
    expect(st.ai_models.models.map((m: any) => m.id)).toEqual(models.models.map((m: any) => m.id));
    for (const m of st.ai_models.models) expect(Object.keys(m).sort()).toEqual(["id", "status", "success_rate"]);
    const ds = st.data_sources;
    expect(ds.total).toBe(9);
    expect(ds.active).toBe(ds.sources.filter((x: any) => x.active).length);
    expect(st.stats.active_sources).toBe(ds.active);
    expect(ds.inactive).toBe(9 - ds.active);
    expect(ds.categories.news).toEqual({ total: 3, active: 1 });
    expect(ds.sources.find((x: any) => x.active && x.category === "news").name).toBe(pushed.source);
    expect(ds.categories.sentiment).toEqual({ total: 3, active: 3 }); // published once at start
    expect(ds.categories.market_data.active).toBeGreaterThan(0);
    // What the platform has nothing behind: null, not a made-up number.
    expect(ds.pools).toBeNull();
    expect(st.database).toBeNull();
  });

  test("news items carry image_url (null when the source gave none) and each keyword once", async () => {
    const a = await app({ symbols: ["BNB", "XRP"] }); // "bnb" and "xrp" are keyword and symbol both
    const c = await client(a);
    const got = take<NewsItem>(c, "news", 6);
    await got.ready();
    const sent = Array.from({ length: 6 }, () => a.pushNews());
    const items = await got;
    expect(items).toEqual(sent);
    for (const n of items) {
      expect(new Set(n.keywords).size).toBe(n.keywords.length);
      if (n.source === "The Block") expect(n.image_url).toBeNull();
      else expect(n.image_url).toMatch(/^https:\/\/news\.example\/\d+\/image\.jpg$/);
    }
    expect(new Set(items.map((n) => n.source))).toEqual(new Set(["CoinDesk", "The Block", "Decrypt"]));
  });

  test("news is pushed on arrival, tagged with its keywords", async () => {
    const a = await app();
    const c = await client(a);
    const got = take<NewsItem>(c, "news", 1);
    await got.ready();
    const sent = a.pushNews({ title: "Bitcoin ETF approved", keywords: ["bitcoin", "btc", "etf"] });
    const [item] = await got;
    expect(item).toEqual(sent);
    const latest = await c.request<{ items: NewsItem[] }>("news.latest", { keywords: ["etf"] });
    expect(latest.items.map((n) => n.title)).toEqual(["Bitcoin ETF approved"]);
  });

  test("per-client keyword filters run on the server: each SDK client gets only its keywords", async () => {
    const a = await app();
    const subscribe = async (filter?: SubscriptionFilter) => {
      const c = await client(a);
      const got: { title: string; tags: readonly string[] | undefined }[] = [];
      await c.subscribe<NewsItem>("news", (n, meta) => got.push({ title: n.title, tags: meta.tags }), filter ? { filter } : {}).ready();
      return { c, got };
    };
    const btc = await subscribe({ any: ["bitcoin"] });
    const ethNoRegulation = await subscribe({ any: ["ethereum"], none: ["regulation"] });
    const sameFilter = await subscribe({ none: ["regulation"], any: ["ethereum", "ethereum"] }); // the same filter, spelt differently
    const everything = await subscribe();
    // The server holds one channel per distinct filter, not per client: two filtered, one plain.
    const news = a.server.stats().topTopics.filter((t) => t.topic === "news");
    expect(news.map((t) => [t.filtered === true, t.subscribers]).sort()).toEqual([[false, 1], [true, 1], [true, 2]]);
    expect(a.server.subscribers("news")).toBe(4);

    a.pushNews({ title: "one", keywords: ["bitcoin", "btc", "price"] });
    a.pushNews({ title: "two", keywords: ["ethereum", "eth", "regulation"] });
    a.pushNews({ title: "three", keywords: ["ethereum", "eth", "upgrade"] });
    const until = async (cond: () => boolean) => {
      const t0 = Date.now();
      while (!cond()) {
        if (Date.now() - t0 > 20_000) throw new Error("news did not arrive in time");
        await Bun.sleep(10);
      }
    };
    await until(() => everything.got.length === 3);
    // Every connection has had all it will get once it answers a frame sent after the three.
    await Promise.all([btc, ethNoRegulation, sameFilter].map(({ c }) => c.serverStats()));
    expect(everything.got.map((n) => n.title)).toEqual(["one", "two", "three"]);
    expect(btc.got).toEqual([{ title: "one", tags: ["bitcoin", "btc", "price"] }]);
    expect(ethNoRegulation.got.map((n) => n.title)).toEqual(["three"]);
    expect(sameFilter.got.map((n) => n.title)).toEqual(["three"]);
  });

  test("on the wire, a filter is a field of the sub frame, and msg frames carry the tags", async () => {
    const a = await app();
    await using raw = await connect(a.wsUrl, { encoding: "json" });
    raw.send({ t: "sub", id: 1, topic: "news", filter: { any: ["bitcoin", "ethereum"], none: ["regulation"] } });
    expect(await raw.next((f) => f.id === 1)).toMatchObject({ t: "ack" });
    a.pushNews({ title: "rules", keywords: ["ethereum", "regulation"] });
    a.pushNews({ title: "rally", keywords: ["bitcoin", "rally"] });
    const msg = await raw.next((f: Frame) => f.t === "msg" && f.topic === "news");
    expect(msg).toMatchObject({ tags: ["bitcoin", "rally"], data: { title: "rally" } });
  });

  test("errors reach the client typed: FORBIDDEN, BAD_TOPIC, NO_HANDLER", async () => {
    const c = await client(await app());
    const errorOf = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);
    const forbidden = await errorOf(c.publish("market.BTC", { price: 1 }));
    const badTopic = await errorOf(c.publish("market.*", { price: 1 }));
    const noHandler = await errorOf(c.request("market.history"));
    for (const [e, code] of [[forbidden, "FORBIDDEN"], [badTopic, "BAD_TOPIC"], [noHandler, "NO_HANDLER"]] as const) {
      expect(e).toBeInstanceOf(TickgateClientError);
      expect((e as TickgateClientError).code).toBe(code);
    }
    // news.latest's zod schema refuses bad input before the handler runs, naming the field.
    await expect(c.request("news.latest", { keywords: "bitcoin" })).rejects.toMatchObject({ code: "INVALID_FRAME", message: expect.stringContaining("news.latest: keywords") });
    await expect(c.request("news.latest", { limit: 1000 })).rejects.toMatchObject({ code: "INVALID_FRAME", message: expect.stringContaining("news.latest: limit") });
  });

  test("the example client: a few symbols, then market.*, filtered news, typed errors, its own stats", async () => {
    const a = await app({ newsEveryMs: [20, 40] });
    const lines: string[] = [];
    const run = await runClient(a.wsUrl, { print: (l) => lines.push(l), allAfterMs: 200, reportEveryMs: 150 });
    // Only news about bitcoin or ethereum, whatever else the desk publishes.
    for (let i = 0; i < 3; i++) a.pushNews({ title: `solana ${i}`, keywords: ["solana", "sol"] });
    a.pushNews({ title: "ether news", keywords: ["ethereum", "eth"] });
    cleanup.push(() => run.stop());
    const has = (re: RegExp) => lines.some((l) => re.test(l));
    const t0 = Date.now();
    while (!(has(/^client stats: /) && has(/^prices: /) && has(/^news: /)) && Date.now() - t0 < 20_000) await Bun.sleep(20);
    expect(has(/^BTC \d/)).toBe(true);
    expect(has(/→ FORBIDDEN$/) && has(/→ BAD_TOPIC$/) && has(/→ NO_HANDLER$/)).toBe(true);
    expect(lines.filter((l) => l.startsWith("market.* → "))).toHaveLength(a.symbols.length);
    expect(has(/^monitoring: /) && has(/^sentiment: /) && has(/^models: /) && has(/^news: /)).toBe(true);
    expect(has(/^client stats: \d+ messages/)).toBe(true);
    expect(lines).toContain(`news filter: ${JSON.stringify(DEFAULT_NEWS_FILTER)}, applied by the server`);
    expect(lines.some((l) => l.startsWith("news: ether news [ethereum, eth] "))).toBe(true);
    const items = lines.filter((l) => l.startsWith("news: "));
    expect(items.length).toBeGreaterThan(0);
    for (const l of items) expect(l).toMatch(/\[(bitcoin|ethereum)[,\]]/);
    expect(items.some((l) => l.startsWith("news: solana"))).toBe(false);
  });

  test("npm run example:crypto-platform: prints its port and activity, exits 0 on SIGTERM", async () => {
    const proc = spawn(process.execPath, ["examples/crypto-platform/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", PERIOD_SCALE: "0.02" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanup.push(() => proc.exitCode === null && proc.kill("SIGKILL"));
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    const t0 = Date.now();
    while (!/\[client\] news: /.test(out) && Date.now() - t0 < 8000) await Bun.sleep(25);
    expect(out).toMatch(/crypto-platform listening on ws:\/\/127\.0\.0\.1:\d+\/ws/);
    expect(out).toContain("[client] BTC ");
    expect(out).toContain("📰 news: ");
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toContain("stopped");
  }, 15_000);
});
