/**
 * The tickgate client: one logical connection over WebSocket (or, where
 * WebSockets cannot get through, SSE + HTTP), reconnecting on its own and
 * resuming every subscription where it left off.
 * @module
 */
import { CloseCode, ErrorCode } from "../protocol/codes.ts";
import { filterError, tagsError, type FilterSpec } from "../protocol/filter-core.ts";
import type { AckFrame, Encoding, ErrorFrame, GapFrame, PublicationFrame, RecoverPosition, WelcomeFrame } from "../protocol/wire.ts";
import { topicError } from "../protocol/topic.ts";
import type { Backoff } from "./backoff.ts";
import type { IncomingFrame } from "./codec.ts";
import { CommandRouter, type CommandHandler } from "./commands.ts";
import { Emitter } from "./emitter.ts";
import { ClientErrorCode, TickgateClientError } from "./errors.ts";
import { httpCommand, httpPublish, httpRequest, httpStats } from "./http.ts";
import { resolveOptions, type ClientOptions, type ResolvedOptions } from "./options.ts";
import { PendingCalls, type Pending } from "./pending.ts";
import { RateMeter } from "./rate.ts";
import { SseLink } from "./sse-link.ts";
import { SubscriptionRegistry } from "./registry.ts";
import type { GapInfo, HandlerEntry, MessageMeta, SubscriptionState } from "./subscription.ts";
import type {
  ClientEvents,
  ClientMode,
  ClientState,
  ClientStats,
  CommandOptions,
  LogLevel,
  PublishOptions,
  RequestOptions,
  ServerStats,
  SubscribeOptions,
  Subscription,
} from "./types.ts";
import { WsLink, type LinkClosed } from "./ws-link.ts";

interface Queued {
  frame: Record<string, unknown>;
  pending?: Pending;
  /** The caller's timeout, for when the frame goes over HTTP instead. */
  timeoutMs?: number;
}

type Link = WsLink | SseLink;

/**
 * A stream is dead after this long without a byte, at the least: the
 * server's `: ping` comes every 5 s and does not say so on the wire.
 */
const SSE_MIN_IDLE_MS = 12_000;
/** Budget for a pattern's topic list in a recover frame, when the server's frame limit is unknown. */
const DEFAULT_MAX_FRAME = 1024 * 1024;
/** By default a `command()` caller waits this much longer than the command's `ttlMs`, so the server's `COMMAND_TIMEOUT` comes first. */
const COMMAND_GRACE_MS = 2000;
/** The longest `ttlMs` a `command` frame may carry (one day). */
const MAX_COMMAND_TTL_MS = 86_400_000;
/** The server's limit on a `log` message. */
const MAX_LOG_MESSAGE = 4096;
const LOG_LEVELS = new Set<string>(["debug", "info", "warn", "error"]);

/**
 * A tickgate client. Several can live in one process; they share nothing.
 * @example
 * import { TickgateClient } from "tickgate/client";
 *
 * const client = new TickgateClient("wss://example.com/ws", { encoding: "json" });
 * client.on("gap", (g) => console.warn("missed publications", g));
 * client.connect();
 * await client.ready(5000);
 * const stop = client.subscribe<{ bid: number }>("prices.*", (tick, meta) => console.log(meta.topic, meta.seq, tick.bid));
 * const seq = await client.publish("chat.room1", { text: "hi" });
 * const quote = await client.request("quote", { symbol: "BTC" }, { timeoutMs: 2000 });
 * stop();
 * client.close();
 */
export class TickgateClient {
  readonly url: string;
  readonly httpUrl: string;
  readonly encoding: Encoding;
  readonly #o: ResolvedOptions;
  readonly #backoff: Backoff;
  readonly #calls: PendingCalls;
  readonly #events: Emitter<ClientEvents>;

  #state: ClientState = "disconnected";
  #mode: ClientMode;
  #link: Link | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closedByUser = true;
  #everConnected = false;
  #wsEverOpened = false;
  /** A connection was lost since the last `connected`: the next one is a reconnect. */
  #lost = false;
  #welcome: WelcomeFrame | undefined;
  #nextId = 0;

  readonly #subs: SubscriptionRegistry;
  /** Subscribe frames awaiting their ack on the current connection, by id. */
  readonly #subAcks = new Map<number, { sub: SubscriptionState; truncated: boolean }>();
  /** Frames whose answer nobody waits for (unsub): their acks and errors are dropped. */
  readonly #quiet = new Set<number>();
  #outbox: Queued[] = [];
  #sseReopen = false;
  readonly #commands: CommandRouter<Link>;
  /** The connection whose `hello` is settled: acknowledged, or refused for a reason a new token would not change. */
  #helloDone: Link | undefined;
  /** The connection on which a `TOKEN_EXPIRED` error was reported already (its 4403 close says nothing new). */
  #expiredOn: Link | undefined;
  #rttMs: number | undefined;
  /** Connections the server knows as this device: their hello was acknowledged, or a command came on them. */
  readonly #deviceLinks = new WeakSet<Link>();

  #messages = 0;
  #reconnects = 0;
  #gaps = 0;
  #recovered = 0;
  readonly #rate = new RateMeter();

  #token: string | undefined;

  constructor(url: string, options: ClientOptions = {}) {
    const o = resolveOptions(url, options);
    this.#token = options.token;
    // Every HTTP request (SSE, publish) carries the current token.
    const baseFetch = o.fetch;
    o.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      if (!this.#token) return baseFetch(input, init);
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${this.#token}`);
      return baseFetch(input, { ...init, headers });
    }) as typeof fetch;
    this.url = o.url;
    this.httpUrl = o.httpUrl;
    this.encoding = o.encoding;
    this.#o = o;
    this.#backoff = o.backoff;
    this.#calls = new PendingCalls();
    this.#subs = new SubscriptionRegistry((where, e) => this.#reportError(listenerError(where, e)));
    this.#commands = new CommandRouter<Link>({
      ack: (cid, result, via) => {
        // On the connection the copy came on, or a later one the server knows as the device. Else the
        // server resends the command once the device is back, and the remembered result answers it.
        const link = this.#link;
        if (link?.mode !== "websocket" || link.ended || (link !== via && !this.#deviceLinks.has(link))) return;
        this.#write(link, { t: "command_ack", cid, data: result });
      },
      nack: (cid, code, message, via) => {
        const link = this.#link;
        if (link?.mode !== "websocket" || link.ended || (link !== via && !this.#deviceLinks.has(link))) return;
        this.#write(link, { t: "command_nack", cid, code, message });
      },
      error: (e) => this.#reportError(e),
    });
    this.#mode = o.WebSocket ? "websocket" : "sse";
    this.#events = new Emitter<ClientEvents>((event, e) => {
      if (event === "error") reportUnheard(e);
      else this.#reportError(listenerError(`'${String(event)}' listener`, e));
    });
  }

  /** Current state; changes are announced by the `state` event. */
  get state(): ClientState {
    return this.#state;
  }

  /** `"websocket"`, or `"sse"` once the fallback kicked in (it stays until `close()`). */
  get mode(): ClientMode {
    return this.#mode;
  }

  /** The last welcome frame received, if any. */
  get welcome(): WelcomeFrame | undefined {
    return this.#welcome;
  }

  /**
   * Starts connecting (and reconnecting, until `close()`). Idempotent.
   * @example
   * const client = new TickgateClient("ws://127.0.0.1:8080/ws").connect();
   */
  connect(): this {
    if (this.#state !== "disconnected") return this;
    this.#closedByUser = false;
    this.#backoff.reset();
    this.#setState("connecting");
    this.#open();
    return this;
  }

  /**
   * Resolves when connected; rejects with `TIMEOUT` after `timeoutMs`, or
   * `CLOSED` if the client is or becomes disconnected first.
   * @example
   * client.connect();
   * await client.ready(5000);
   */
  ready(timeoutMs = this.#o.timeoutMs): Promise<void> {
    if (this.#state === "connected") return Promise.resolve();
    if (this.#state === "disconnected") return Promise.reject(closedError("the client is not connecting; call connect() first"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new TickgateClientError(ClientErrorCode.TIMEOUT, `not connected within ${timeoutMs} ms (state: ${this.#state})`));
      }, timeoutMs);
      const off = this.on("state", (s) => {
        if (s === "connected") resolve();
        else if (s === "disconnected") reject(closedError("the client disconnected before it was ready"));
        else return;
        clearTimeout(timer);
        off();
      });
    });
  }

  /**
   * Subscribes `handler` to a topic or pattern (`*` one token, `>` the rest).
   * Each publication reaches the handler once, in seq order per topic, across
   * reconnects (see docs/client.md for what is guaranteed when). With
   * `filter`, only publications whose tags pass it; the topic and the filter
   * together name the subscription, as on the server.
   * @throws TickgateClientError `BAD_TOPIC` for an invalid topic or pattern,
   * `INVALID_FRAME` for a malformed filter.
   * @example
   * const unsubscribe = client.subscribe<{ bid: number }>("prices.*", (tick, { topic, seq }) => {
   *   console.log(topic, seq, tick.bid);
   * }, { onGap: () => reloadSnapshot() });
   * await unsubscribe.ready();
   * unsubscribe();
   * client.subscribe("news", show, { filter: { any: ["bitcoin", "ethereum"], none: ["opinion"] } });
   */
  subscribe<T = unknown>(topic: string, handler: (data: T, meta: Readonly<MessageMeta>) => void, options: SubscribeOptions = {}): Subscription {
    const bad = topicError(topic, true);
    if (bad) throw new TickgateClientError(ErrorCode.BAD_TOPIC, `bad topic '${topic}': ${bad}`);
    let filter: FilterSpec | undefined;
    if (options.filter !== undefined) {
      const wrong = filterError(options.filter);
      if (wrong) throw new TickgateClientError(ErrorCode.INVALID_FRAME, `subscribe '${topic}': bad filter: ${wrong}`);
      filter = copyFilter(options.filter);
    }
    const { sub, created } = this.#subs.obtain(topic, filter);
    if (created) this.#subscribeNow(sub);
    const entry: HandlerEntry = { fn: handler as HandlerEntry["fn"], onGap: options.onGap };
    sub.handlers.add(entry);
    const unsubscribe = (() => this.#unsubscribe(sub, entry)) as Subscription;
    Object.defineProperty(unsubscribe, "topic", { value: topic });
    Object.defineProperty(unsubscribe, "filter", { value: filter === undefined ? undefined : Object.freeze(copyFilter(filter)) });
    unsubscribe.ready = (timeoutMs = this.#o.timeoutMs) => this.#subs.waitReady(sub, entry, timeoutMs);
    return unsubscribe;
  }

  /**
   * Publishes to a concrete topic. With `ack` (the default) resolves to the
   * publication's seq; rejects with the server's code (`FORBIDDEN`,
   * `PAYLOAD_TOO_LARGE`, ...), `TIMEOUT`, `CONNECTION_LOST` (it may or may
   * not have been published), `QUEUE_FULL` or `CLOSED`. While not connected,
   * publications wait in a queue of `maxQueued` and go out on connect.
   * With `ack: false` nothing is returned and failures go to the `error` event.
   * `tags` travel with the publication, for subscribers' filters (malformed
   * tags: `INVALID_FRAME`, without sending anything).
   * @example
   * const seq = await client.publish("chat.room1", { text: "hi" });
   * client.publish("prices.BTC", { bid: 1 }, { key: "BTC", ack: false });
   * await client.publish("news", item, { tags: ["bitcoin", "etf"] });
   */
  publish(topic: string, data: unknown, options: PublishOptions & { ack: false }): void;
  publish(topic: string, data: unknown, options?: PublishOptions): Promise<number>;
  publish(topic: string, data: unknown, options: PublishOptions = {}): Promise<number> | void {
    const ack = options.ack !== false;
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    const frame: Record<string, unknown> = { t: "pub", topic, data: data === undefined ? null : data };
    if (options.key !== undefined) frame.key = options.key;
    if (options.tags !== undefined) {
      const wrong = tagsError(options.tags);
      if (wrong) {
        const err = new TickgateClientError(ErrorCode.INVALID_FRAME, `publish '${topic}': bad tags: ${wrong}`);
        return ack ? Promise.reject(err) : this.#reportError(err);
      }
      if (options.tags.length > 0) frame.tags = [...options.tags];
    }
    if (!ack) {
      if (this.#state === "disconnected") return this.#reportError(closedError("publish on a disconnected client"));
      if (this.#mode === "sse") return void this.#httpPublish(frame, timeoutMs).catch((e) => this.#reportError(e));
      return this.#dispatch(frame);
    }
    if (this.#state === "disconnected") return Promise.reject(closedError("publish on a disconnected client"));
    if (this.#mode === "sse") return this.#httpPublish(frame, timeoutMs);
    return this.#call(frame, timeoutMs) as Promise<number>;
  }

  /**
   * Calls a request handler registered on the server (`server.handle(method, fn)`).
   * Rejects with the server's code (`NO_HANDLER`, `HANDLER_ERROR`,
   * `REQUEST_TIMEOUT`, ...), `TIMEOUT` or `CONNECTION_LOST`. Over SSE it is
   * `POST {httpUrl}/api/request/<method>` (JSON: binary data does not survive).
   * @example
   * const quote = await client.request<{ bid: number }>("quote", { symbol: "BTC" }, { timeoutMs: 2000 });
   */
  request<R = unknown>(method: string, data?: unknown, options: RequestOptions = {}): Promise<R> {
    if (this.#state === "disconnected") return Promise.reject(closedError("request on a disconnected client"));
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    const frame: Record<string, unknown> = { t: "req", method };
    if (data !== undefined) frame.data = data;
    if (this.#mode === "sse") return this.#overHttp(frame, timeoutMs)! as Promise<R>;
    return this.#call(frame, timeoutMs) as Promise<R>;
  }

  /**
   * Sends a command to a device and resolves with what the device's
   * handler returned (its `command_ack` data, `null` for none). The server
   * queues it while the device is offline and resends it until the device
   * acknowledges, for `ttlMs`. Rejects with the server's code
   * (`COMMAND_TIMEOUT`: not acknowledged within `ttlMs`; `FORBIDDEN`;
   * `DEVICE_QUEUE_FULL`; `RATE_LIMITED`; `SHUTTING_DOWN`), `TIMEOUT`,
   * `CONNECTION_LOST` or `CLOSED`. After any rejection but `FORBIDDEN`,
   * `RATE_LIMITED` and `DEVICE_QUEUE_FULL` the device may still have carried
   * it out. Over SSE it is `POST {httpUrl}/api/command`.
   * @example
   * const state = await client.command<{ on: boolean }>("relay-7", "switch", { on: true }, { ttlMs: 30_000 });
   */
  command<R = unknown>(device: string, name: string, data?: unknown, options: CommandOptions = {}): Promise<R> {
    if (this.#state === "disconnected") return Promise.reject(closedError("command on a disconnected client"));
    const ttlMs = options.ttlMs ?? Math.min(this.#o.timeoutMs, MAX_COMMAND_TTL_MS);
    const timeoutMs = options.timeoutMs ?? ttlMs + COMMAND_GRACE_MS;
    const frame: Record<string, unknown> = { t: "command", device, name, ttlMs };
    if (data !== undefined) frame.data = data;
    const answer = this.#mode === "sse" ? this.#overHttp(frame, timeoutMs)! : this.#call(frame, timeoutMs);
    return answer.then(commandResult) as Promise<R>;
  }

  /**
   * Handles the commands named `name` sent to this device (`"*"`: every
   * name without a handler of its own); replaces the name's handler, if
   * any, and returns a function that removes it. The handler's result is
   * sent back to the sender once it resolves. Each command id runs once:
   * a copy the server resends (at-least-once delivery) is acknowledged again
   * with the remembered result. A handler that throws a `CommandRefused`
   * refuses the command (`command_nack`): the sender's `command()` rejects
   * with its code, and a resent copy is refused again without running the
   * handler. A handler that throws anything else is reported on `error`
   * (`LISTENER_ERROR`) and the command is not acknowledged, so the server
   * resends it and the handler runs again, until `ttlMs` runs out.
   * @example
   * client.onCommand<{ delayS: number }>("reboot", async ({ delayS }, { cid }) => {
   *   await scheduleReboot(delayS);
   *   return { ok: true };
   * });
   */
  onCommand<T = any, R = unknown>(name: string, handler: CommandHandler<T, R>): () => void {
    if (typeof name !== "string" || name.length === 0 || name.length > 128) throw new TickgateClientError(ClientErrorCode.INVALID_OPTION, "onCommand: name must be 1–128 characters, or \"*\"");
    if (typeof handler !== "function") throw new TickgateClientError(ClientErrorCode.INVALID_OPTION, "onCommand: handler must be a function");
    return this.#commands.on(name, handler as CommandHandler);
  }

  /**
   * Sends a device log line; the server publishes it on `devices.<id>.log`
   * as `{level, message, ts}`. Fire and forget: queued while not connected,
   * failures (`NOT_A_DEVICE`, `RATE_LIMITED`, ...) go to the `error` event.
   * A message longer than 4096 characters is cut. WebSocket only.
   * @throws TickgateClientError `INVALID_FRAME` for an unknown level.
   * @example
   * client.log("warn", "battery at 9%");
   */
  log(level: LogLevel, message: string): void {
    if (!LOG_LEVELS.has(level)) throw new TickgateClientError(ErrorCode.INVALID_FRAME, `log: level must be debug, info, warn or error, not '${String(level)}'`);
    let text = String(message);
    if (text.length > MAX_LOG_MESSAGE) text = `${text.slice(0, MAX_LOG_MESSAGE - 1)}…`;
    if (this.#state === "disconnected") return this.#reportError(closedError("log on a disconnected client"));
    if (this.#mode === "sse") return this.#reportError(unsupported("log"));
    this.#dispatch({ t: "log", level, message: text });
  }

  /**
   * Asks the server for its stats (`{t: "stats"}`): connections, sessions by
   * client type and, for admins or with auth off, per-topic counts; plus
   * this connection's own counters under `session`. Over SSE it reads the
   * operator route `GET {httpUrl}/stats` (no `session`; with auth on it
   * needs a `tg.admin` token, else `FORBIDDEN` or `UNAUTHORIZED`).
   * @example
   * const { connections, sessions } = await client.serverStats();
   */
  serverStats<S = ServerStats>(options: RequestOptions = {}): Promise<S> {
    if (this.#state === "disconnected") return Promise.reject(closedError("stats on a disconnected client"));
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    if (this.#mode === "sse") return this.#overHttp({ t: "stats" }, timeoutMs)! as Promise<S>;
    return this.#call({ t: "stats" }, timeoutMs) as Promise<S>;
  }

  /**
   * Listens to an event; returns a function that stops listening. Listeners
   * that throw are reported on `error` and never disturb the client.
   * @example
   * const off = client.on("state", (s, prev) => console.log(prev, "→", s));
   */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): void {
    this.#events.off(event, listener);
  }

  /**
   * Counters since the client was created.
   * @example
   * const { messagesPerSec, reconnects } = client.stats();
   */
  stats(): ClientStats {
    return {
      messages: this.#messages,
      messagesPerSec: this.#rate.perSecond(),
      reconnects: this.#reconnects,
      gaps: this.#gaps,
      recovered: this.#recovered,
      mode: this.#mode,
      state: this.#state,
      rttMs: this.#rttMs,
    };
  }

  /**
   * Closes the connection and stops reconnecting. Pending acks, requests and
   * queued frames reject with `CLOSED`. Subscriptions are kept: `connect()`
   * again resumes them where they left off.
   * @example
   * client.close();
   */
  close(): void {
    if (this.#state === "disconnected" && this.#closedByUser) return;
    this.#closedByUser = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    this.#calls.failAll(closedError("the client was closed"));
    this.#outbox = [];
    const link = this.#link;
    this.#link = undefined;
    link?.abandon("client closed", 1000);
    this.#linkLost();
    this.#setState("disconnected");
  }

  // ---- connection lifecycle ----

  #open(): void {
    if (this.#mode === "sse") return this.#openSse();
    const link: WsLink = new WsLink(this.#connectUrl(), this.#o.WebSocket!, this.encoding, this.#o.heartbeatMs, {
      onOpen: () => {
        clearTimeout(this.#connectTimer);
        this.#wsEverOpened = true;
      },
      onFrame: (f) => {
        if (this.#link === link) this.#onFrame(f);
      },
      onClose: (info) => this.#onClosed(link, info),
      onPong: (rttMs) => {
        if (this.#link !== link) return;
        this.#rttMs = rttMs;
        this.#events.emit("heartbeat", { rttMs });
      },
    });
    this.#link = link;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = setTimeout(() => {
      if (this.#link !== link || link.opened) return;
      if (this.#o.fallback === "sse" && !this.#wsEverOpened) {
        // WebSockets never got through on this client: switch for good.
        this.#link = undefined;
        link.abandon("connect timeout; falling back to SSE");
        this.#mode = "sse";
        this.#events.emit("mode", "sse");
        if (this.#o.hello || this.#commands.size > 0) {
          this.#reportError(new TickgateClientError(ClientErrorCode.UNSUPPORTED, "on the SSE fallback there is no hello (device id, meta, will), no command and no log: they need a WebSocket"));
        }
        this.#flushOutboxOverHttp();
        this.#openSse();
      } else link.abandon(`WebSocket not open within ${this.#o.connectTimeoutMs} ms`);
    }, this.#o.connectTimeoutMs);
  }

  #openSse(): void {
    if (this.#subs.size === 0) {
      // Nothing to stream: publishes are plain HTTP requests.
      this.#link = undefined;
      this.#connected();
      return;
    }
    this.#subs.setStatus("pending");
    const idleMs = this.#o.heartbeatMs > 0 ? Math.max(2 * this.#o.heartbeatMs, SSE_MIN_IDLE_MS) : 0;
    const link: SseLink = new SseLink(this.#sseUrl(), this.#o.fetch, idleMs, {
      onOpen: () => {},
      onFrame: (f) => {
        if (this.#link === link) this.#onFrame(f);
      },
      onClose: (info) => this.#onClosed(link, info),
    });
    this.#link = link;
  }

  /** The WebSocket URL for the next connect, with the current token. */
  #connectUrl(): string {
    if (!this.#token) return this.url;
    const u = new URL(this.url);
    u.searchParams.set("token", this.#token);
    return u.toString();
  }

  /**
   * Replaces the token: used by every later connect and HTTP request, and
   * sent at once on a live WebSocket as an `auth` frame so the server extends
   * the connection (the token must have the same subject).
   * @example
   * setInterval(async () => client.setToken(await fetchFreshToken()), 50 * 60_000);
   */
  async setToken(token: string): Promise<void> {
    this.#token = token;
    const link = this.#link;
    if (this.#state !== "connected" || link?.mode !== "websocket") return;
    await this.#call({ t: "auth", token }, this.#o.timeoutMs);
    // What the connection was refused before it had a token (hello, subscriptions) goes again.
    if (this.#link === link && !link.ended) this.#handshake(link);
  }

  /** The SSE URL: every subscription, and where to resume each topic from. */
  #sseUrl(): string {
    const q = new URLSearchParams();
    // SSE streams have no filters: one stream per topic, filtered here (see registry.deliver).
    for (const topic of this.#subs.topics()) q.append("topic", topic);
    const client = new URL(this.url).searchParams.get("client");
    if (client) q.set("client", client);
    const cursor = this.#subs.cursor();
    if (cursor) q.set("lastEventId", cursor);
    return `${this.httpUrl}/sse?${q}`;
  }

  /** The set of subscriptions changed while on SSE: reopen the stream once, after the current turn. */
  #reopenSse(): void {
    if (this.#sseReopen || this.#closedByUser || this.#state === "disconnected") return;
    this.#sseReopen = true;
    queueMicrotask(() => {
      this.#sseReopen = false;
      // A scheduled retry opens with the set as it is then.
      if (this.#closedByUser || this.#mode !== "sse" || this.#retryTimer !== undefined) return;
      const old = this.#link;
      this.#link = undefined;
      old?.abandon("subscriptions changed");
      this.#linkLost();
      this.#openSse();
    });
  }

  #connected(): void {
    clearTimeout(this.#connectTimer);
    if (this.#lost) this.#reconnects++;
    this.#lost = false;
    this.#everConnected = true;
    this.#backoff.reset();
    this.#setState("connected");
  }

  #onWelcome(w: WelcomeFrame): void {
    this.#welcome = w;
    const link = this.#link;
    if (link?.mode === "websocket") return this.#handshake(link);
    this.#connected();
    this.#events.emit("welcome", w);
  }

  /**
   * On a WebSocket: the `hello`, when there is one, and its ack (so the
   * server knows the device before anything else), then the subscriptions
   * not held yet and the queued frames, then `connected`. Run on every
   * welcome, and again after `setToken` in case the connection had been
   * refused things for want of a token.
   */
  #handshake(link: WsLink): void {
    const hello = this.#helloFrame();
    if (!hello || this.#helloDone === link) return this.#linkReady(link);
    this.#callOn(link, hello, this.#o.timeoutMs).then(
      () => {
        if (this.#link !== link) return;
        this.#helloDone = link;
        if (this.#o.hello?.device !== undefined) this.#deviceLinks.add(link);
        this.#linkReady(link);
      },
      (e: TickgateClientError) => {
        if (this.#link !== link) return;
        // A connection that cannot answer a hello is no use: try another.
        if (e.code === ClientErrorCode.TIMEOUT) return link.abandon(`no answer to hello within ${this.#o.timeoutMs} ms`);
        // Refused (a forbidden will, no token yet): the rest still works; say so and go on.
        // Only a refusal for want of a token is worth another try, after setToken.
        if (e.code !== ErrorCode.UNAUTHORIZED && e.code !== ErrorCode.TOKEN_EXPIRED) this.#helloDone = link;
        this.#reportError(new TickgateClientError(e.code, `hello refused: ${e.message}`, { details: e.details, cause: e }));
        this.#linkReady(link);
      },
    );
  }

  #linkReady(link: WsLink): void {
    for (const sub of this.#subs.values()) if (sub.status === "idle") this.#sendSub(link, sub);
    const queued = this.#outbox;
    this.#outbox = [];
    for (const q of queued) this.#write(link, q.frame, q.pending);
    if (this.#state === "connected") return;
    this.#connected();
    if (this.#welcome) this.#events.emit("welcome", this.#welcome);
  }

  #helloFrame(): Record<string, unknown> | undefined {
    const h = this.#o.hello;
    if (!h) return undefined;
    // Without a clientType of its own the client keeps the type the server gave it.
    return { t: "hello", client: this.#o.clientType ?? this.#welcome?.client ?? "api", ...h };
  }

  #onClosed(link: Link, info: LinkClosed): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    clearTimeout(this.#connectTimer);
    this.#linkLost();
    if (info.error) this.#reportError(info.error instanceof TickgateClientError ? info.error : new TickgateClientError(ClientErrorCode.HTTP, info.error.message));
    const authError = authCloseError(info);
    if (authError && !(info.code === CloseCode.TOKEN_EXPIRED && this.#expiredOn === link)) this.#reportError(authError);
    if (this.#closedByUser) return;
    if (this.#everConnected) this.#lost = true;
    this.#setState("reconnecting");
    const delayMs = this.#backoff.next();
    if (delayMs === undefined) {
      this.#closedByUser = true;
      const err = new TickgateClientError(ClientErrorCode.RECONNECT_FAILED, `gave up after ${this.#backoff.attempts} reconnect attempts (last: ${info.reason || info.code})`);
      this.#calls.failAll(err);
      this.#outbox = [];
      this.#setState("disconnected");
      this.#reportError(err);
      return;
    }
    this.#events.emit("retry", { attempt: this.#backoff.attempts, delayMs });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#closedByUser) this.#open();
    }, delayMs);
  }

  /** The connection is gone: its in-flight frames are lost, its subscriptions no longer held. */
  #linkLost(): void {
    this.#subAcks.clear();
    this.#quiet.clear();
    this.#subs.setStatus("idle");
    this.#calls.failAll(new TickgateClientError(ClientErrorCode.CONNECTION_LOST, "the connection was lost before the answer came; the frame may or may not have taken effect"), true);
  }

  #setState(s: ClientState): void {
    if (s === this.#state) return;
    const prev = this.#state;
    this.#state = s;
    this.#events.emit("state", s, prev);
  }

  // ---- frames in ----

  #onFrame(f: IncomingFrame): void {
    switch (f.t) {
      case "msg":
        return this.#onMessage(f);
      case "ack":
        return this.#onAck(f);
      case "error":
        return this.#onError(f);
      case "res":
        return void this.#calls.answer(f.id as number, f.data);
      case "stats":
        if (typeof f.id === "number") this.#calls.answer(f.id, f.data);
        return;
      case "gap":
        return this.#onGap(f);
      case "welcome":
        return this.#onWelcome(f);
      case "command":
        if (!this.#link) return;
        this.#deviceLinks.add(this.#link);
        return this.#commands.receive(f, this.#link);
      default:
        return; // pong: the heartbeat only needs traffic
    }
  }

  #onMessage(f: PublicationFrame): void {
    if (this.#subs.deliver(f, this.#mode === "sse")) {
      this.#messages++;
      this.#rate.add();
    }
  }

  #onAck(f: AckFrame & { topic?: string }): void {
    // Over SSE acks name their subscription instead of an id.
    if (typeof f.topic === "string" && this.#mode === "sse") {
      // One stream topic may stand for several subscriptions (with different filters); count its replay once.
      this.#subs.byTopic(f.topic).forEach((sub, i) => this.#subAcked(sub, f, false, i === 0));
      return;
    }
    const id = f.id as number;
    const s = this.#subAcks.get(id);
    if (s) {
      this.#subAcks.delete(id);
      // Unsubscribed while the ack was on its way: nothing to do.
      if (this.#subs.holds(s.sub)) this.#subAcked(s.sub, f, s.truncated);
      return;
    }
    if (this.#quiet.delete(id)) return;
    this.#calls.answer(id, f.seq);
  }

  #subAcked(sub: SubscriptionState, ack: AckFrame, truncated: boolean, countReplay = true): void {
    sub.acked(ack);
    const r = ack.recovery;
    if (r && countReplay) this.#recovered += r.replayed;
    const epoch = ack.epoch ?? sub.epoch ?? "";
    const seq = ack.seq === undefined ? {} : { seq: ack.seq };
    if (r && !r.ok) this.#gap(sub, { type: "recovery-failed", subscription: sub.topic, reason: r.reason ?? "window", epoch, ...seq, replayed: r.replayed });
    else if (truncated) this.#gap(sub, { type: "recovery-failed", subscription: sub.topic, reason: "truncated", epoch, ...seq, replayed: r?.replayed ?? 0 });
    this.#subs.acknowledged(sub);
  }

  #onError(f: ErrorFrame): void {
    const err = TickgateClientError.fromWire(f);
    if (f.id === undefined) {
      // A refreshed token no longer covers this topic: the server ended its subscriptions (with any filter).
      const ended = f.code === ErrorCode.FORBIDDEN && typeof f.details?.topic === "string" ? this.#subs.byTopic(f.details.topic) : [];
      if (ended.length > 0) {
        for (const sub of ended) {
          this.#subs.remove(sub, err);
          this.#reportError(new TickgateClientError(err.code, `subscription to ${describe(sub)} ended: ${err.message}`, { details: err.details }));
        }
        return;
      }
      if (f.code === ErrorCode.TOKEN_EXPIRED) this.#expiredOn = this.#link;
      return this.#reportError(err);
    }
    // Over SSE a refused subscription's error carries its topic as the id.
    if (this.#mode === "sse" && typeof f.id === "string") {
      const refused = this.#subs.byTopic(f.id);
      if (refused.length > 0) {
        for (const sub of refused) {
          this.#subs.remove(sub, err);
          this.#reportError(new TickgateClientError(err.code, `subscription to ${describe(sub)} refused: ${err.message}`, { details: err.details }));
        }
        this.#reopenSse();
        return;
      }
    }
    const id = f.id as number;
    const s = this.#subAcks.get(id);
    if (s) {
      this.#subAcks.delete(id);
      if (!this.#subs.holds(s.sub)) return;
      if (f.code === ErrorCode.UNAUTHORIZED || f.code === ErrorCode.TOKEN_EXPIRED) {
        // Not authenticated (yet): kept, and sent again once a token is in force (setToken, reconnect).
        s.sub.status = "idle";
        this.#reportError(new TickgateClientError(err.code, `subscription to ${describe(s.sub)} not accepted yet: ${err.message}`, { details: err.details }));
        return;
      }
      // The server refused the subscription (too many, bad topic, forbidden): it is dead.
      this.#subs.remove(s.sub, err);
      this.#reportError(new TickgateClientError(err.code, `subscription to ${describe(s.sub)} refused: ${err.message}`, { details: err.details }));
      return;
    }
    if (this.#quiet.delete(id)) return;
    if (!this.#calls.fail(id, err)) this.#reportError(err);
  }

  #onGap(f: GapFrame): void {
    // A gap names the topic, not the filter: it applies to every subscription with that topic.
    for (const sub of this.#subs.byTopic(f.topic)) this.#gap(sub, { type: "gap", subscription: f.topic, reason: f.reason, count: f.count });
  }

  #gap(sub: SubscriptionState, info: GapInfo): void {
    this.#gaps++;
    this.#subs.gap(sub, info);
    this.#events.emit("gap", info);
  }

  // ---- frames out ----

  #subscribeNow(sub: SubscriptionState): void {
    if (this.#mode === "sse") return this.#reopenSse();
    const link = this.#link;
    if (this.#state === "connected" && link?.mode === "websocket") this.#sendSub(link, sub);
  }

  #sendSub(link: WsLink, sub: SubscriptionState): void {
    const id = ++this.#nextId;
    const frame: { t: "sub"; id: number; topic: string; filter?: FilterSpec; recover?: RecoverPosition } = { t: "sub", id, topic: sub.topic };
    if (sub.filter) frame.filter = sub.filter;
    const budget = ((this.#welcome?.limits.maxFrameBytes ?? DEFAULT_MAX_FRAME) >> 1) - sub.key.length - 64;
    const r = sub.recoverPosition(budget);
    if (r) frame.recover = r.recover;
    sub.status = "pending";
    this.#subAcks.set(id, { sub, truncated: r?.truncated ?? false });
    try {
      link.send(frame);
    } catch (e) {
      this.#subAcks.delete(id);
      this.#reportError(new TickgateClientError(ClientErrorCode.CONNECTION_LOST, `subscribe ${describe(sub)} not sent: ${(e as Error).message}`));
    }
  }

  #unsubscribe(sub: SubscriptionState, entry: HandlerEntry): void {
    if (!sub.handlers.delete(entry) || sub.handlers.size > 0) return;
    if (!this.#subs.holds(sub)) return;
    const held = sub.status !== "idle";
    this.#subs.remove(sub, closedError(`unsubscribed from ${describe(sub)}`));
    if (this.#mode === "sse") return this.#reopenSse();
    const link = this.#link;
    if (held && link?.mode === "websocket" && this.#state === "connected") {
      const id = ++this.#nextId;
      this.#quiet.add(id);
      try {
        // The server names a filtered subscription by topic and filter: both go.
        link.send(sub.filter ? { t: "unsub", id, topic: sub.topic, filter: sub.filter } : { t: "unsub", id, topic: sub.topic });
      } catch {
        // the connection is going away; so is the subscription with it
      }
    }
  }

  /** Sends a frame that expects an answer (`pub` with ack, `req`, `command`, `stats`, `auth`). */
  #call(frame: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const id = ++this.#nextId;
    frame.id = id;
    const { pending, promise } = this.#calls.add(id, String(frame.t), timeoutMs, (p) => {
      this.#outbox = this.#outbox.filter((q) => q.pending !== p);
    });
    this.#dispatch(frame, pending, timeoutMs);
    return promise;
  }

  /** Sends a frame that expects an answer on this very connection, now, whatever the state. */
  #callOn(link: WsLink, frame: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const id = ++this.#nextId;
    frame.id = id;
    const { pending, promise } = this.#calls.add(id, String(frame.t), timeoutMs, () => {});
    this.#write(link, frame, pending);
    return promise;
  }

  /** Writes now when connected, else queues (bounded). */
  #dispatch(frame: Record<string, unknown>, pending?: Pending, timeoutMs?: number): void {
    const link = this.#link;
    if (this.#state === "connected" && link?.mode === "websocket") return this.#write(link, frame, pending);
    if (this.#outbox.length >= this.#o.maxQueued) {
      const err = new TickgateClientError(ClientErrorCode.QUEUE_FULL, `${this.#o.maxQueued} frames are queued already while not connected`);
      if (!pending || !this.#calls.fail(pending, err)) this.#reportError(err);
      return;
    }
    this.#outbox.push(pending ? { frame, pending, timeoutMs } : { frame });
  }

  #write(link: WsLink, frame: Record<string, unknown>, pending?: Pending): void {
    try {
      link.send(frame);
      if (pending) pending.sent = true;
    } catch (e) {
      // Unencodable data, or a socket that is closing.
      const err = e instanceof TickgateClientError ? e : new TickgateClientError(ClientErrorCode.CONNECTION_LOST, `'${frame.t}' not sent: ${(e as Error)?.message ?? e}`, { cause: e });
      if (!pending || !this.#calls.fail(pending, err)) this.#reportError(err);
    }
  }

  /** After switching to SSE, queued publishes, requests, commands and stats go over HTTP; the rest cannot. */
  #flushOutboxOverHttp(): void {
    const queued = this.#outbox;
    this.#outbox = [];
    for (const q of queued) {
      const sent = this.#overHttp(q.frame, q.timeoutMs ?? this.#o.timeoutMs);
      if (!sent) {
        const err = unsupported(String(q.frame.t));
        if (!q.pending || !this.#calls.fail(q.pending, err)) this.#reportError(err);
        continue;
      }
      if (q.pending) this.#calls.transfer(q.pending, sent);
      else sent.catch((e) => this.#reportError(e));
    }
  }

  /** The HTTP equivalent of a frame, sent; undefined for frames that have none. */
  #overHttp(frame: Record<string, unknown>, timeoutMs: number): Promise<unknown> | undefined {
    const { fetch: f } = this.#o;
    switch (frame.t) {
      case "pub":
        return this.#httpPublish(frame, timeoutMs);
      case "req":
        return httpRequest(f, this.httpUrl, String(frame.method), frame.data, timeoutMs);
      case "command":
        return httpCommand(f, this.httpUrl, { device: frame.device, name: frame.name, data: frame.data, ttlMs: frame.ttlMs }, timeoutMs);
      case "stats":
        return httpStats(f, this.httpUrl, timeoutMs);
      default:
        return undefined;
    }
  }

  #httpPublish(frame: Record<string, unknown>, timeoutMs: number): Promise<number> {
    return httpPublish(this.#o.fetch, this.httpUrl, { topic: frame.topic, data: frame.data, key: frame.key, tags: frame.tags }, timeoutMs);
  }

  #reportError(err: TickgateClientError): void {
    if (this.#events.has("error")) this.#events.emit("error", err);
    else reportUnheard(err);
  }
}

/** A subscription as messages name it: `'news'`, or `'news' with filter {"any":["btc"]}`. */
function describe(sub: SubscriptionState): string {
  return sub.filter ? `'${sub.topic}' with filter ${JSON.stringify(sub.filter)}` : `'${sub.topic}'`;
}

/** A filter with its lists copied (so the caller's arrays can change without changing the subscription). */
function copyFilter(f: FilterSpec): FilterSpec {
  const out: FilterSpec = {};
  if (f.any !== undefined) out.any = [...f.any];
  if (f.all !== undefined) out.all = [...f.all];
  if (f.none !== undefined) out.none = [...f.none];
  return out;
}

function closedError(message: string): TickgateClientError {
  return new TickgateClientError(ClientErrorCode.CLOSED, message);
}

function unsupported(what: string): TickgateClientError {
  return new TickgateClientError(ClientErrorCode.UNSUPPORTED, `'${what}' needs the WebSocket transport; the client is on the SSE fallback`);
}

/** The answer to a `command` (`{acked: true, data}`, over WebSocket or HTTP) → the device's data. */
function commandResult(answer: unknown): unknown {
  const a = answer as { acked?: unknown; data?: unknown } | null;
  if (a === null || typeof a !== "object" || a.acked !== true) throw new TickgateClientError(ClientErrorCode.HTTP, "the answer to a command is not {acked: true, data}");
  return a.data === undefined ? null : a.data;
}

/** The error to report when the server closed for an authentication reason; undefined for other closes. */
function authCloseError(info: LinkClosed): TickgateClientError | undefined {
  const details = { closeCode: info.code, reason: info.reason };
  switch (info.code) {
    case CloseCode.AUTH_FAILED:
      return new TickgateClientError(ClientErrorCode.AUTH_FAILED, `the server refused the token and closed the connection (4401 ${info.reason})`, { details });
    case CloseCode.TOKEN_EXPIRED:
      return new TickgateClientError(ErrorCode.TOKEN_EXPIRED, `the token expired and the server closed the connection (4403 ${info.reason}); set a fresh one with setToken`, { details });
    case CloseCode.AUTH_TIMEOUT:
      return new TickgateClientError(ClientErrorCode.AUTH_TIMEOUT, `the server requires a token and none came in time (4408 ${info.reason}); set one with setToken`, { details });
    default:
      return undefined;
  }
}

function listenerError(where: string, e: unknown): TickgateClientError {
  return new TickgateClientError(ClientErrorCode.LISTENER_ERROR, `${where} threw: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** Nobody listens for errors: say so on the console rather than lose them. */
function reportUnheard(e: unknown): void {
  console.error("tickgate client:", e);
}
