/**
 * The server's public surface: the {@link TickgateServer} interface and the
 * types its methods take. The implementation (`server.ts`) and its
 * subsystems stay internal; `tickgate` exports only these.
 * @module
 */
import type { ClientType } from "../protocol/frames.ts";
import type { ConnectionInfo, ConnectionListener } from "./host.ts";
import type { LegacyProtocol } from "./legacy.ts";
import type { Logger } from "./log.ts";
import type { Options } from "./options.ts";
import type { RequestContext } from "./requests.ts";
import type { StatsSnapshot } from "./stats.ts";

export type { ConnectionInfo, ConnectionListener };

export interface PublishOptions {
  /** Conflation / retention key, e.g. the symbol of a tick. */
  key?: string;
  /** Tags that subscription filters select on (at most 32, each up to 64 characters). */
  tags?: string[];
}

/** What `handle(..., { schema })` needs: zod's `safeParse` shape, so core does not depend on a zod version. */
export interface RequestSchema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
}

/** A route added with {@link TickgateServer.route}. */
export type RouteHandler = (req: Request, ctx: { server: TickgateServer; remoteAddress: string; url: URL }) => Response | Promise<Response>;

/** The address a server listens on. */
export interface ListenAddress {
  host: string;
  port: number;
  /** `http://host:port`. */
  url: string;
}

/**
 * A tickgate server. Create one with `createServer` or `serve` from
 * `tickgate/bun`.
 * @example
 * const server = await serve({ port: 8080 });
 * server.publish("prices.BTC-USD", { bid: 64000.5 }, { key: "BTC-USD" });
 */
export interface TickgateServer {
  /** The validated, frozen options. */
  readonly options: Options;
  readonly log: Logger;
  /** The path WebSocket clients connect on (`options.path`). */
  readonly wsPath: string;
  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(): Promise<ListenAddress>;
  /** `http://host:port` of the listening server. */
  readonly url: string;
  /** `ws://host:port/path` where clients connect. */
  readonly wsUrl: string;
  readonly port: number;
  /**
   * Publishes from a server-side producer. The topic's policies apply, and
   * `publish: "server"` topics accept it; grants and rate limits do not (a
   * producer is not a caller). Returns the seq, or a promise of it with an
   * asynchronous bus.
   */
  publish(topic: string, data: unknown, opts?: PublishOptions): number | Promise<number>;
  /** Publishes a payload that is already msgpack (one value), carried as these bytes. */
  publishRaw(topic: string, raw: Uint8Array, opts?: PublishOptions): number | Promise<number>;
  /** `publish` for producers on timers: never throws or rejects; failures are logged. */
  tryPublish(topic: string, data: unknown, opts?: PublishOptions): number | undefined;
  /** Registers a request handler for `req` frames and `POST /api/request/<method>`. */
  handle<T = unknown>(method: string, handler: (data: T, ctx: RequestContext) => unknown, opts?: { schema?: RequestSchema<T> }): this;
  /** Sends a command to a device, at least once; resolves with its ack data. */
  command(device: string, name: string, data?: unknown, opts?: { ttlMs?: number }): Promise<unknown>;
  /**
   * Serves an older frame protocol on its own path, translated to tickgate's
   * frames, with the same auth, grants, limits and policies as `/ws` (see
   * `docs/migrating.md`). Register before `listen()`.
   */
  legacy(protocol: LegacyProtocol): this;
  /** Adds an HTTP route, answered before the built-in ones. Paths are exact. */
  route(method: string, path: string, handler: RouteHandler): this;
  /** Listens to connections opening and closing (WebSocket and SSE alike). Returns a function that stops listening. */
  on(event: "open" | "close", listener: ConnectionListener): () => void;
  /** Connections open now (WebSocket and SSE). */
  readonly connections: number;
  /** Open sessions (one per connection) by client type: the `sessions` of {@link stats}. */
  readonly sessions: Readonly<Record<ClientType, number>>;
  /** How many subscriptions a publication on `topic` would reach now. */
  subscribers(topic: string): number;
  stats(top?: number): StatsSnapshot;
  /**
   * Drains, then closes: `/ready` answers 503 at once while everything keeps
   * serving for `drainMs` (the option, or `opts.drainMs`); then new work is
   * refused with SHUTTING_DOWN, SSE streams get `event: close`, pending HTTP
   * requests are answered, sockets close with 1001, and the listener stops.
   * Idempotent: a second call returns the same promise, and its `drainMs`
   * (e.g. 0) can cut a drain in progress short.
   */
  close(opts?: { drainMs?: number }): Promise<void>;
  /** True from the first `close()`: the server is draining or closing. */
  readonly closing: boolean;
}

/** `http://host:port` for a bound address; an IPv6 host gets brackets. The one URL formatter. */
export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
