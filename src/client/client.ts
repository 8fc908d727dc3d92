/**
 * The tickgate client's public API: one logical connection over WebSocket
 * (or, where WebSockets cannot get through, SSE + HTTP), reconnecting on its
 * own and resuming every subscription where it left off. This file checks
 * arguments and builds frames; `connection.ts` runs the life cycle and the
 * current link (`ws-link.ts`, `sse-link.ts`) carries them.
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import { filterError, tagsError, type FilterSpec } from "../protocol/filter-core.ts";
import { LIMITS, LOG_LEVELS, type Encoding, type WelcomeFrame } from "../protocol/wire.ts";
import { topicError } from "../protocol/topic.ts";
import type { CommandHandler } from "./commands.ts";
import { Connection } from "./connection.ts";
import { Emitter } from "./emitter.ts";
import { ClientErrorCode, closedError, listenerError, reportUnheard, TickgateClientError } from "./errors.ts";
import { describe, type OutFrame } from "./link.ts";
import { resolveOptions, type ClientOptions, type ResolvedOptions } from "./options.ts";
import type { HandlerEntry, MessageMeta, SubscriptionState } from "./subscription.ts";
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

/** By default a `command()` caller waits this much longer than the command's `ttlMs`, so the server's `COMMAND_TIMEOUT` comes first. */
const COMMAND_GRACE_MS = 2000;
const LEVELS = new Set<string>(LOG_LEVELS);

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
  readonly #events: Emitter<ClientEvents>;
  readonly #conn: Connection;

  constructor(url: string, options: ClientOptions = {}) {
    const o = resolveOptions(url, options);
    this.url = o.url;
    this.httpUrl = o.httpUrl;
    this.encoding = o.encoding;
    this.#o = o;
    this.#events = new Emitter<ClientEvents>((event, e) => {
      if (event === "error") reportUnheard(e);
      else this.#conn.report(listenerError(`'${String(event)}' listener`, e));
    });
    this.#conn = new Connection(o, this.#events, options.token);
  }

  /** Current state; changes are announced by the `state` event. */
  get state(): ClientState {
    return this.#conn.state;
  }

  /**
   * `"websocket"`, or `"sse"` on the fallback: for good when no WebSocket
   * ever opened, or until the WebSocket is back after a cut (`mode` event).
   */
  get mode(): ClientMode {
    return this.#conn.mode;
  }

  /** The last welcome frame received, if any. */
  get welcome(): WelcomeFrame | undefined {
    return this.#conn.welcomeFrame;
  }

  /**
   * Starts connecting (and reconnecting, until `close()`). Idempotent.
   * @example
   * const client = new TickgateClient("ws://127.0.0.1:8080/ws").connect();
   */
  connect(): this {
    this.#conn.connect();
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
    if (this.state === "connected") return Promise.resolve();
    if (this.state === "disconnected") return Promise.reject(closedError("the client is not connecting; call connect() first"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new TickgateClientError(ClientErrorCode.TIMEOUT, `not connected within ${timeoutMs} ms (state: ${this.state})`));
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
    const { sub, created } = this.#conn.subs.obtain(topic, filter);
    if (created) this.#conn.subscribe(sub);
    const entry: HandlerEntry = { fn: handler as HandlerEntry["fn"], onGap: options.onGap };
    sub.handlers.add(entry);
    const unsubscribe = (() => this.#unsubscribe(sub, entry)) as Subscription;
    Object.defineProperty(unsubscribe, "topic", { value: topic });
    Object.defineProperty(unsubscribe, "filter", { value: filter === undefined ? undefined : Object.freeze(copyFilter(filter)) });
    unsubscribe.ready = (timeoutMs = this.#o.timeoutMs) => this.#conn.subs.waitReady(sub, entry, timeoutMs);
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
    const frame: OutFrame = { t: "pub", topic, data: data === undefined ? null : data };
    if (options.key !== undefined) frame.key = options.key;
    if (options.tags !== undefined) {
      const wrong = tagsError(options.tags);
      if (wrong) {
        const err = new TickgateClientError(ErrorCode.INVALID_FRAME, `publish '${topic}': bad tags: ${wrong}`);
        return ack ? Promise.reject(err) : this.#conn.report(err);
      }
      if (options.tags.length > 0) frame.tags = [...options.tags];
    }
    if (!ack) {
      if (this.state === "disconnected") return this.#conn.report(closedError("publish on a disconnected client"));
      return this.#conn.send(frame);
    }
    if (this.state === "disconnected") return Promise.reject(closedError("publish on a disconnected client"));
    return this.#conn.call(frame, timeoutMs) as Promise<number>;
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
    if (this.state === "disconnected") return Promise.reject(closedError("request on a disconnected client"));
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    const frame: OutFrame = { t: "req", method };
    if (data !== undefined) frame.data = data;
    return this.#conn.call(frame, timeoutMs) as Promise<R>;
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
    if (this.state === "disconnected") return Promise.reject(closedError("command on a disconnected client"));
    const ttlMs = options.ttlMs ?? Math.min(this.#o.timeoutMs, LIMITS.commandTtlMs);
    const timeoutMs = options.timeoutMs ?? ttlMs + COMMAND_GRACE_MS;
    const frame: OutFrame = { t: "command", device, name, ttlMs };
    if (data !== undefined) frame.data = data;
    return this.#conn.call(frame, timeoutMs).then(commandResult) as Promise<R>;
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
    return this.#conn.commands.on(name, handler as CommandHandler);
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
    if (!LEVELS.has(level)) throw new TickgateClientError(ErrorCode.INVALID_FRAME, `log: level must be debug, info, warn or error, not '${String(level)}'`);
    let text = String(message);
    if (text.length > LIMITS.logMessageLength) text = `${text.slice(0, LIMITS.logMessageLength - 1)}…`;
    if (this.state === "disconnected") return this.#conn.report(closedError("log on a disconnected client"));
    this.#conn.send({ t: "log", level, message: text });
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
    if (this.state === "disconnected") return Promise.reject(closedError("stats on a disconnected client"));
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    return this.#conn.call({ t: "stats" }, timeoutMs) as Promise<S>;
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
    const c = this.#conn;
    const i = c.inbound;
    return {
      messages: i.messages,
      messagesPerSec: i.rate.perSecond(),
      reconnects: c.reconnects,
      gaps: i.gaps,
      recovered: i.recovered,
      mode: c.mode,
      state: c.state,
      rttMs: c.rttMs,
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
    this.#conn.close();
  }

  /**
   * Replaces the token: used by every later connect and HTTP request, and
   * sent at once on a live WebSocket as an `auth` frame so the server extends
   * the connection (the token must have the same subject).
   * @example
   * setInterval(async () => client.setToken(await fetchFreshToken()), 50 * 60_000);
   */
  setToken(token: string): Promise<void> {
    return this.#conn.setToken(token);
  }

  #unsubscribe(sub: SubscriptionState, entry: HandlerEntry): void {
    if (!sub.handlers.delete(entry) || sub.handlers.size > 0) return;
    const subs = this.#conn.subs;
    if (!subs.holds(sub)) return;
    const held = sub.status !== "idle";
    subs.remove(sub, closedError(`unsubscribed from ${describe(sub)}`));
    this.#conn.unsubscribe(sub, held);
  }
}

/** A filter with its lists copied (so the caller's arrays can change without changing the subscription). */
function copyFilter(f: FilterSpec): FilterSpec {
  const out: FilterSpec = {};
  if (f.any !== undefined) out.any = [...f.any];
  if (f.all !== undefined) out.all = [...f.all];
  if (f.none !== undefined) out.none = [...f.none];
  return out;
}

/** The answer to a `command` (`{acked: true, data}`, over WebSocket or HTTP) → the device's data. */
function commandResult(answer: unknown): unknown {
  const a = answer as { acked?: unknown; data?: unknown } | null;
  if (a === null || typeof a !== "object" || a.acked !== true) throw new TickgateClientError(ClientErrorCode.HTTP, "the answer to a command is not {acked: true, data}");
  return a.data === undefined ? null : a.data;
}
