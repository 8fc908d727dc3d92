/**
 * The crypto dashboard page: the seed's status bar (connection dot, users
 * online, sessions, client types), the channels it lets you pick, typed
 * handlers per channel, stats on request and the heartbeat. Bundled with
 * the tickgate client SDK by the server (`scriptRoute` from `tickgate/bun`).
 *
 * Query parameter `?heartbeat=<ms>` changes the client's heartbeat (the
 * seed's 10 s), for the tests.
 * @module
 */
import { TickgateClient, type ClientState, type MessageMeta, type Subscription } from "tickgate/client";
import {
  CHANNELS,
  DATA_CHANNELS,
  EVENT_OF,
  presenceOf,
  SESSION_META,
  TOPICS,
  type Channel,
  type ChannelEvents,
  type DataChannel,
  type Heartbeat,
  type Presence,
} from "../types.ts";

// ---- a typed layer over subscribe(): the seed's `on('price_update', fn)` ----

type EventName = keyof ChannelEvents;
type Handler<K extends EventName> = (data: ChannelEvents[K], meta: Readonly<MessageMeta>) => void;

/**
 * Channels as subscriptions: `select()` holds exactly the picked ones
 * (`all` is the single pattern `>`), and each publication goes to the typed
 * handlers of its channel, found from the topic's first token.
 */
class CryptoFeed {
  readonly #handlers: { [K in EventName]: Set<Handler<K>> } = { market_update: new Set(), price_update: new Set(), news_update: new Set() };
  readonly #subs = new Map<string, Subscription>();
  constructor(readonly client: TickgateClient) {}

  on<K extends EventName>(event: K, fn: Handler<K>): () => void {
    this.#handlers[event].add(fn);
    return () => this.#handlers[event].delete(fn);
  }

  /** Subscribes to exactly these channels, unsubscribing the others. Resolves when the server has acked them. */
  select(channels: ReadonlySet<Channel>): Promise<void> {
    const wanted = new Set<string>(channels.has("all") ? [CHANNELS.all] : [...channels].map((c) => CHANNELS[c]));
    for (const [pattern, unsubscribe] of this.#subs) {
      if (wanted.has(pattern)) continue;
      unsubscribe();
      this.#subs.delete(pattern);
    }
    for (const pattern of wanted) {
      if (!this.#subs.has(pattern)) this.#subs.set(pattern, this.client.subscribe(pattern, (data, meta) => this.#route(data, meta)));
    }
    return Promise.all([...this.#subs.values()].map((s) => s.ready())).then(() => {});
  }

  get patterns(): string[] {
    return [...this.#subs.keys()];
  }

  #route(data: unknown, meta: Readonly<MessageMeta>): void {
    const channel = meta.topic.slice(0, meta.topic.indexOf(".")) as DataChannel;
    if (!Object.hasOwn(EVENT_OF, channel)) return; // `all` also carries sys.* topics
    const event = EVENT_OF[channel];
    for (const fn of this.#handlers[event]) (fn as Handler<typeof event>)(data as ChannelEvents[typeof event], meta);
  }
}

// ---- the page ----

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const fmtUsd = (x: number) =>
  x >= 1e9 ? `$${(x / 1e9).toFixed(2)} B` : x >= 1e6 ? `$${(x / 1e6).toFixed(2)} M` : `$${x.toLocaleString("en-US", { maximumFractionDigits: x < 1 ? 5 : 2 })}`;
const time = (ts: number) => new Date(ts).toLocaleTimeString("en-GB");

function log(line: string): void {
  const el = $("log");
  el.textContent = `${time(Date.now())} ${line}\n${el.textContent ?? ""}`.slice(0, 4000);
}

function setNum(id: string, n: number): void {
  const el = $(id);
  if (el.textContent === String(n)) return;
  el.textContent = String(n);
  el.classList.add("changed");
  setTimeout(() => el.classList.remove("changed"), 600);
}

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const client = new TickgateClient(wsUrl, {
  clientType: "browser",
  heartbeatMs: Number(new URLSearchParams(location.search).get("heartbeat") ?? 10_000), // the seed's heartbeat
  // The seed's session metadata, sent in the hello on every connect; the stats answer shows it.
  meta: { ...SESSION_META },
  reconnect: { minDelayMs: 250, maxDelayMs: 3000 },
});
const feed = new CryptoFeed(client);

// Connection dot: green connected, amber (re)connecting, red disconnected.
const COLOUR: Record<ClientState, string> = { connected: "green", connecting: "amber", reconnecting: "amber", disconnected: "red" };
function showState(s: ClientState): void {
  const dot = $("dot");
  dot.className = `dot ${COLOUR[s]}`;
  dot.dataset.state = s;
  dot.dataset.history = dot.dataset.history ? `${dot.dataset.history},${s}` : s;
  $("status-text").textContent = s === "connected" ? `connected (${client.mode})` : s === "disconnected" ? "disconnected" : `${s}…`;
  $("reconnects").textContent = String(client.stats().reconnects);
}
client.on("state", (s, prev) => {
  showState(s);
  log(`${prev} → ${s}`);
  if (s === "connected") void requestStats();
});
client.on("retry", ({ attempt, delayMs }) => log(`reconnect attempt ${attempt} in ${delayMs} ms`));
client.on("welcome", (w) => {
  $("session").textContent = w.session;
  $("client-type").textContent = w.client;
});
// The client's own heartbeat: every answered ping, with its round trip.
client.on("heartbeat", ({ rttMs }) => {
  const el = $("rtt");
  el.dataset.rtt = rttMs.toFixed(1);
  el.dataset.count = String(Number(el.dataset.count ?? 0) + 1);
  el.textContent = `${rttMs.toFixed(1)} ms`;
});
client.on("gap", (g) => log(g.type === "gap" ? `${g.subscription}: ${g.count} ${g.reason}` : `${g.subscription}: recovery failed (${g.reason}), showing the snapshot`));
client.on("error", (e) => log(`error ${e.code}: ${e.message}`));

// Presence: pushed by the server whenever the counts change. Pushes and
// stats answers come in order on the one connection, so the last to arrive
// is the newest (their `ts` values come from different clocks).
function showPresence(p: Presence): void {
  setNum("users-online", p.usersOnline);
  setNum("active-sessions", p.activeSessions);
  setNum("c-browser", p.byClient.browser);
  setNum("c-api", p.byClient.api);
  setNum("c-mobile", p.byClient.mobile);
}
client.subscribe<Presence>(TOPICS.presence, showPresence);
client.subscribe<Heartbeat>(TOPICS.heartbeat, (h) => {
  const el = $("heartbeat");
  el.dataset.ts = String(h.ts);
  el.textContent = `${time(h.ts)} (every ${h.intervalMs / 1000} s)`;
});

// Stats on request: the seed's requestStats(), as tickgate's `stats` frame.
async function requestStats(): Promise<void> {
  const t0 = performance.now();
  try {
    const s = await client.serverStats({ timeoutMs: 5000 });
    const ms = performance.now() - t0;
    $("stats-ms").textContent = `${ms.toFixed(1)} ms`;
    $("stats-ms").dataset.ms = ms.toFixed(1);
    if (s.session) $("connected-at").textContent = time(s.session.connectedAt);
    const p = presenceOf(s);
    const shown = { ...p, uptimeSec: s.server?.uptimeSec ?? s.uptimeSec, publications: s.messages?.publications, session: s.session };
    $("stats-out").textContent = JSON.stringify(shown, null, 2);
    showPresence(p);
  } catch (e) {
    log(`stats failed: ${(e as Error).message}`);
  }
}
$("stats-btn").addEventListener("click", () => void requestStats());

// Typed channel handlers.
const received: Record<DataChannel, number> = { market: 0, prices: 0, news: 0 };
const count = (c: DataChannel) => ($(`n-${c}`).textContent = String(++received[c]));

feed.on("market_update", (m) => {
  count("market");
  $("m-cap").textContent = fmtUsd(m.totalMarketCap);
  $("m-vol").textContent = fmtUsd(m.totalVolume24h);
  $("m-dom").textContent = `${m.btcDominance.toFixed(2)} %`;
  $("m-fg").textContent = String(m.fearGreed);
  $("market-ts").textContent = time(m.ts);
});

feed.on("price_update", (t) => {
  count("prices");
  const body = $<HTMLTableElement>("prices").tBodies[0]!;
  let row = body.querySelector<HTMLTableRowElement>(`tr[data-symbol="${t.symbol}"]`);
  if (!row) {
    row = body.insertRow();
    row.dataset.symbol = t.symbol;
    for (let i = 0; i < 4; i++) row.insertCell();
    row.cells[0]!.textContent = t.symbol;
  }
  const prev = Number(row.dataset.price ?? t.price);
  row.dataset.price = String(t.price);
  row.cells[1]!.textContent = fmtUsd(t.price);
  row.cells[1]!.className = t.price > prev ? "up" : t.price < prev ? "down" : "";
  row.cells[2]!.textContent = `${t.change24h > 0 ? "+" : ""}${t.change24h.toFixed(2)} %`;
  row.cells[2]!.className = t.change24h >= 0 ? "up" : "down";
  row.cells[3]!.textContent = fmtUsd(t.volume24h);
});

feed.on("news_update", (n, meta) => {
  count("news");
  const list = $("news");
  if (list.querySelector(`li[data-id="${n.id}"]`)) return;
  const li = document.createElement("li");
  li.dataset.id = n.id;
  li.dataset.topic = meta.topic;
  const mood = n.sentiment > 0.2 ? "up" : n.sentiment < -0.2 ? "down" : "";
  li.innerHTML = `<span class="tag"></span><br><span></span> <span class="${mood}"></span>`;
  li.children[0]!.textContent = `${time(n.ts)} · ${n.category} · ${n.source}`;
  li.children[2]!.textContent = n.title;
  li.children[3]!.textContent = `${n.sentiment > 0 ? "+" : ""}${n.sentiment.toFixed(2)}`;
  list.prepend(li);
  while (list.children.length > 50) list.lastElementChild!.remove();
});

// Channel picker: "all" is `>`, and supersedes the others while checked.
const boxes = [...document.querySelectorAll<HTMLInputElement>('input[name="channel"]')];
async function applyChannels(): Promise<void> {
  const picked = new Set(boxes.filter((b) => b.checked).map((b) => b.value as Channel));
  const all = picked.has("all");
  for (const b of boxes) if (b.value !== "all") b.disabled = all;
  const subs = $("subs");
  subs.textContent = "subscribing…";
  subs.dataset.topics = "";
  try {
    await feed.select(picked);
    subs.textContent = feed.patterns.join("  ") || "(none)";
    subs.dataset.topics = feed.patterns.join(" ");
  } catch (e) {
    subs.textContent = `failed: ${(e as Error).message}`;
  }
}
for (const b of boxes) b.addEventListener("change", () => void applyChannels());

showState(client.state);
client.connect();
void applyChannels();
log(`channels: ${DATA_CHANNELS.join(", ")} and all (${CHANNELS.all})`);
