/**
 * The tickgate server: the core's side of the transport boundary. It admits
 * connections, turns frames into broker calls (see dispatch.ts) and answers
 * with frames. It imports no runtime: the transport and the bus are handed in.
 * @module
 */
import { forwardedResolver } from "./forwarded.ts";
import { CloseCode, ErrorCode } from "../protocol/codes.ts";
import { DecodeError, decodeBinary, decodeText, encodeFrame, type Decoded } from "../protocol/codec.ts";
import { CLIENT_TYPES, SUBPROTOCOL, clientFrameSchemas, type ClientFrameType, type ClientType, type Encoding, type FrameId, type ServerFrame } from "../protocol/frames.ts";
import { assertOneValue } from "../protocol/msgpack-scan.ts";
import { Admission, bearerToken, isRefusal } from "./auth/admission.ts";
import type { Grants } from "./auth/grants.ts";
import { TokenVerifier, type Identity } from "./auth/tokens.ts";
import { Broker } from "./broker.ts";
import { LocalBus, type Bus } from "./bus.ts";
import { DeviceRegistry, isDeviceId } from "./devices.ts";
import { Dispatcher } from "./dispatch.ts";
import { ProtocolError, TickgateError } from "./errors.ts";
import { silentLogger, type Logger } from "./log.ts";
import { parseOptions, type Options } from "./options.ts";
import { PolicyTable } from "./policy.ts";
import { RequestRouter, type RequestContext, type RequestHandler } from "./requests.ts";
import { Session, TokenBucket } from "./session.ts";
import { SlowConsumerGuard } from "./slow-consumers.ts";
import { ConnectionCounters, StatsCollector, type StatsSnapshot } from "./stats.ts";
import type { ServerSocket, Transport, TransportHost, UpgradeInfo } from "./transport.ts";
import { VERSION } from "./version.ts";

export interface ServerDeps {
  transport: Transport;
  /** Defaults to a single-node {@link LocalBus}. */
  bus?: Bus;
  log?: Logger;
  /** HTTP routes other than the WebSocket path; see `http/routes.ts`. */
  http?: (req: Request, server: TickgateServer, remoteAddress: string) => Response | Promise<Response>;
}

/** What `server.on("open" | "close")` listeners learn about a connection. */
export interface ConnectionInfo {
  session: string;
  client: ClientType;
  remoteAddress: string;
  /** The token's subject, when there is one. */
  who: string | undefined;
  /** Only on close. */
  code?: number;
}

export type ConnectionListener = (info: ConnectionInfo) => void;

/** What `handle(..., { schema })` needs: zod's `safeParse` shape, so core does not depend on a zod version. */
export interface RequestSchema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
}

/** A route added with {@link TickgateServer.route}. */
export type RouteHandler = (req: Request, ctx: { server: TickgateServer; remoteAddress: string; url: URL }) => Response | Promise<Response>;

export interface PublishOptions {
  /** Conflation / retention key, e.g. the symbol of a tick. */
  key?: string;
  /** Tags that subscription filters select on (at most 32, each up to 64 characters). */
  tags?: string[];
}

/** What an HTTP request may do, from its bearer token (see {@link TickgateServer.authorize}). */
export interface RequestAuth {
  identity: Identity | null;
  grants: Grants;
}

const COMMANDS = Object.keys(clientFrameSchemas) as ClientFrameType[];
/** Codes caused by the peer: only these spend its error budget. */
const CLIENT_FAULTS = new Set<string>([
  ErrorCode.BAD_FRAME,
  ErrorCode.UNKNOWN_TYPE,
  ErrorCode.INVALID_FRAME,
  ErrorCode.BAD_TOPIC,
  ErrorCode.BAD_PAYLOAD,
  ErrorCode.PAYLOAD_TOO_LARGE,
  ErrorCode.FORBIDDEN,
  ErrorCode.NOT_SUBSCRIBED,
  ErrorCode.TOO_MANY_SUBSCRIPTIONS,
  ErrorCode.NO_HANDLER,
  ErrorCode.UNAUTHORIZED,
  ErrorCode.RATE_LIMITED,
  ErrorCode.NOT_A_DEVICE,
]);
const ENCODING_BY_PROTOCOL = new Map<string, Encoding>(Object.entries(SUBPROTOCOL).map(([e, p]) => [p, e as Encoding]));
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Closes that are not failures: normal, going away, and no status (browsers' default `close()`). */
export const NORMAL_CLOSE = new Set([1000, 1001, 1005]);


export class TickgateServer implements TransportHost<Session> {
  readonly options: Options;
  readonly broker: Broker;
  readonly requests: RequestRouter;
  readonly guard: SlowConsumerGuard;
  readonly admission: Admission;
  readonly devices: DeviceRegistry;
  readonly log: Logger;
  readonly wsPath: string;
  readonly #transport: Transport;
  readonly #bus: Bus;
  readonly #http: ServerDeps["http"];
  readonly #conns = new ConnectionCounters();
  readonly #sessions = new Set<Session>();
  readonly #statsCollector: StatsCollector;
  readonly #dispatcher: Dispatcher;
  #address: { host: string; port: number } | undefined;
  #closing: Promise<void> | undefined;
  readonly #routes = new Map<string, RouteHandler>();
  readonly #listeners = { open: new Set<ConnectionListener>(), close: new Set<ConnectionListener>() };

  constructor(options: unknown, deps: ServerDeps) {
    this.options = parseOptions(options);
    this.#transport = deps.transport;
    this.#bus = deps.bus ?? new LocalBus();
    this.#http = deps.http;
    this.log = deps.log ?? silentLogger;
    this.wsPath = this.options.path;
    const policies = new PolicyTable(this.options);
    this.guard = new SlowConsumerGuard(this.options.slowConsumer.nativeLimitBytes, {
      disconnect: (s, ch, buffered) => {
        this.log.warn({ event: "slow_consumer", action: "disconnect", session: s.id, ip: s.remoteAddress, topic: ch.key, buffered }, "slow consumer disconnected");
        // Close reasons are capped at 123 bytes; topic names are ASCII, so cut there.
        s.socket?.close(CloseCode.SLOW_CONSUMER, `slow consumer on '${ch.base}'`.slice(0, 120));
      },
      lagged: (s, ch, buffered) => {
        this.log.info({ event: "slow_consumer", action: ch.policy.action, session: s.id, ip: s.remoteAddress, topic: ch.key, buffered }, "slow consumer lagging");
      },
    });
    this.broker = new Broker(this.options, policies, this.#transport, this.#bus, this.guard);
    this.requests = new RequestRouter(this.options.requestTimeoutMs);
    const a = this.options.auth;
    this.admission = new Admission(this.options, a.secret || a.publicKey || a.jwks ? new TokenVerifier(a) : null);
    this.devices = new DeviceRegistry(this.options.devices, {
      publish: (topic, data, key) => void this.tryPublish(topic, data, key === undefined ? {} : { key }),
      sendCommand: (s, frame) => this.send(s, frame),
    });
    this.#statsCollector = new StatsCollector(VERSION, this.#bus.epoch, this.broker, this.guard, this.#conns);
    this.#dispatcher = new Dispatcher(this);
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  async listen(): Promise<{ host: string; port: number; url: string }> {
    await this.#bus.attach(this.broker);
    const o = this.options;
    this.#address = await this.#transport.listen(this, {
      host: o.host,
      port: o.port,
      maxFrameBytes: o.maxFrameBytes,
      backpressureLimit: o.slowConsumer.nativeLimitBytes,
      idleTimeoutSec: o.idleTimeoutSec,
      sendPings: o.sendPings,
      perMessageDeflate: o.perMessageDeflate,
      clientAddress: forwardedResolver(o.trustedProxies, o.forwardedHeader),
    });
    this.guard.start(o.slowConsumer.checkIntervalMs);
    this.devices.start();
    this.#statsCollector.start();
    const host = this.#address.host.includes(":") ? `[${this.#address.host}]` : this.#address.host;
    return { ...this.#address, url: `http://${host}:${this.#address.port}` };
  }

  get port(): number {
    if (!this.#address) throw new Error("server is not listening");
    return this.#address.port;
  }

  /** `http://host:port` of the listening server. */
  get url(): string {
    if (!this.#address) throw new Error("server is not listening");
    const h = this.#address.host.includes(":") ? `[${this.#address.host}]` : this.#address.host;
    return `http://${h}:${this.#address.port}`;
  }

  /** `ws://host:port/path` where clients connect. */
  get wsUrl(): string {
    return `${this.url.replace(/^http/, "ws")}${this.options.path}`;
  }

  /**
   * How many subscriptions a publication on `topic` would reach now: exact,
   * pattern and filtered ones (a filtered one counts whether or not its
   * filter would pass). One lookup per matching channel, like a publish.
   */
  subscribers(topic: string): number {
    let n = 0;
    for (const ch of this.broker.index.match(topic)) n += ch.members.size;
    return n;
  }

  /**
   * Closes the server on SIGINT/SIGTERM and exits the process with 0 (1 if
   * closing fails), after `beforeClose` (e.g. stopping producers).
   */
  closeOnSignal(beforeClose: () => void | Promise<void> = () => {}): this {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      this.log.info({ event: "shutdown", signal }, "shutting down");
      Promise.resolve()
        .then(beforeClose)
        .then(() => this.close())
        .then(
          () => process.exit(0),
          (e) => {
            this.log.error({ event: "shutdown_failed", err: String(e) }, "shutdown failed");
            process.exit(1);
          },
        );
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    return this;
  }

  /**
   * Adds an HTTP route, answered before the built-in ones (so it can also
   * replace one, e.g. `/`). Paths are exact.
   * @example
   * server.route("GET", "/api/devices", () => Response.json(listDevices()));
   */
  route(method: string, path: string, handler: RouteHandler): this {
    if (!path.startsWith("/")) throw new Error(`route path must start with '/', got '${path}'`);
    this.#routes.set(`${method.toUpperCase()} ${path}`, handler);
    return this;
  }

  /**
   * Listens to connections opening and closing (WebSocket and SSE alike),
   * e.g. to publish "users online". Returns a function that stops listening.
   * Runs once per connection, never per message.
   */
  on(event: "open" | "close", listener: ConnectionListener): () => void {
    this.#listeners[event].add(listener);
    return () => this.#listeners[event].delete(listener);
  }

  #emit(event: "open" | "close", s: Session, code?: number): void {
    if (this.#listeners[event].size === 0) return;
    const info: ConnectionInfo = { session: s.id, client: s.client, remoteAddress: s.remoteAddress, who: s.identity?.sub };
    if (code !== undefined) info.code = code;
    for (const l of this.#listeners[event]) {
      try {
        l(info);
      } catch (e) {
        this.log.error({ event: "listener_failed", on: event, err: String(e) }, "connection listener threw");
      }
    }
  }

  /** Connections open now (WebSocket and SSE). Cheap: a counter. */
  get connections(): number {
    return this.#conns.connections;
  }

  /** Open connections by client type. Cheap: counters. */
  get sessions(): Readonly<Record<ClientType, number>> {
    return { ...this.#conns.byClient };
  }

  /**
   * Publishes from a server-side producer. Same checks and fan-out as a
   * client's publish, except that `publish: "server"` topics accept it.
   * @example
   * server.publish("prices.BTC-USD", { bid: 64000.5, ask: 64001 }, { key: "BTC-USD" });
   */
  publish(topic: string, data: unknown, opts: PublishOptions = {}): number | Promise<number> {
    return this.broker.publish(topic, { value: data }, opts.key, "server", opts.tags);
  }

  /**
   * Publishes a payload that is already msgpack (one value), carried to
   * subscribers as these bytes. The bytes are checked like a client's.
   */
  publishRaw(topic: string, raw: Uint8Array, opts: PublishOptions = {}): number | Promise<number> {
    try {
      assertOneValue(raw);
    } catch (e) {
      throw new ProtocolError(ErrorCode.BAD_PAYLOAD, `raw payload is not one msgpack value: ${(e as Error).message}`);
    }
    return this.broker.publish(topic, { raw }, opts.key, "server", opts.tags);
  }

  /**
   * `publish` for producers on timers: never throws or rejects. Returns the
   * seq (a seq is never 0), or `undefined` when the publication was refused
   * (logged) or is sequenced later by an asynchronous bus (failures logged).
   */
  tryPublish(topic: string, data: unknown, opts: PublishOptions = {}): number | undefined {
    try {
      const r = this.publish(topic, data, opts);
      if (typeof r === "number") return r;
      r.catch((e) => this.log.warn({ event: "publish_failed", topic, err: String(e) }, "server publish failed"));
      return undefined;
    } catch (e) {
      this.log.warn({ event: "publish_failed", topic, err: String(e) }, "server publish failed");
      return undefined;
    }
  }

  /**
   * Registers a request handler, answered for `req` frames (and
   * `POST /api/request/<method>`) with this `method`. With a `schema` (any
   * object with zod's `safeParse`), bad input is refused with INVALID_FRAME
   * naming the field, before the handler runs. A handler may throw
   * `new TickgateError("YOUR_CODE", message)`: the caller gets that code.
   * @example
   * server.handle("quote", (d) => quote(d.symbol), { schema: z.object({ symbol: z.string() }) });
   */
  handle<T = unknown>(method: string, handler: (data: T, ctx: RequestContext) => unknown, opts: { schema?: RequestSchema<T> } = {}): this {
    const schema = opts.schema;
    this.requests.register(
      method,
      schema
        ? (data, ctx) => {
            const r = schema.safeParse(data);
            if (!r.success) {
              const issue = r.error.issues[0];
              const where = issue?.path.length ? issue.path.join(".") : "data";
              throw new ProtocolError(ErrorCode.INVALID_FRAME, `${method}: ${where}: ${issue?.message ?? "invalid"}`);
            }
            return handler(r.data as T, ctx);
          }
        : (handler as RequestHandler),
    );
    return this;
  }

  /**
   * Sends a command to a device, at least once: queued while it is offline,
   * resent until it acks. Resolves with the device's ack data.
   */
  command(device: string, name: string, data?: unknown, opts: { ttlMs?: number } = {}): Promise<unknown> {
    return this.devices.command(device, name, data, opts.ttlMs);
  }

  stats(top?: number): StatsSnapshot {
    const s = this.#statsCollector.snapshot(top);
    s.devicesOnline = this.devices.online;
    s.security = { ...this.admission.counters };
    return s;
  }

  /** Closes every connection with 1001, stops listening. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= this.#shutdown());
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  async #shutdown(): Promise<void> {
    this.guard.stop();
    this.devices.stop();
    this.#statsCollector.stop();
    await this.#transport.stop(false);
    for (const s of this.#sessions) s.socket?.close(CloseCode.GOING_AWAY, "server shutting down");
    const deadline = Date.now() + this.options.shutdownGraceMs;
    while (this.#sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.#transport.stop(true);
    await this.#bus.detach(this.broker);
  }

  /**
   * What an HTTP request may do, from its bearer token; a Response when it
   * is refused. With auth off, everything is allowed.
   */
  async authorize(req: Request, remoteAddress?: string): Promise<RequestAuth | Response> {
    const token = bearerToken(req.headers, new URL(req.url), this.options.auth.queryToken);
    const r = await this.admission.admit(token);
    if (isRefusal(r)) {
      this.log.warn({ event: "auth_failed", via: "http", ip: remoteAddress, reason: r.message }, "token refused");
      return jsonError(r.status, r.code, r.message);
    }
    if (r.awaitingAuth) return jsonError(401, ErrorCode.UNAUTHORIZED, "a bearer token is required");
    return { identity: r.identity, grants: r.grants };
  }

  // ---- TransportHost ----

  async upgrade(info: UpgradeInfo): Promise<{ state: Session; protocol?: string } | Response> {
    if (this.#closing) return jsonError(503, ErrorCode.SHUTTING_DOWN, "server is shutting down");
    const refused = this.admission.gate(info.headers, info.remoteAddress);
    if (refused) {
      this.log.warn({ event: "limit", code: refused.code, ip: info.remoteAddress, origin: info.headers.get("origin") ?? undefined }, refused.message);
      return jsonError(refused.status, refused.code, refused.message);
    }
    // The slot is taken now, before any await, so concurrent upgrades cannot
    // all pass the limit; every refusal below gives it back.
    this.admission.opened(info.remoteAddress);
    const r = await this.#upgradeAdmitted(info);
    if (r instanceof Response) this.admission.closed(info.remoteAddress);
    return r;
  }

  /** @internal The transport could not complete an upgrade it was granted: give the slot back. */
  abandon(s: Session): void {
    if (s.socket === null && !s.closed) {
      s.closed = true;
      this.admission.closed(s.remoteAddress);
    }
  }

  async #upgradeAdmitted(info: UpgradeInfo): Promise<{ state: Session; protocol?: string } | Response> {
    let encoding: Encoding = this.options.defaultEncoding;
    let protocol: string | undefined;
    if (info.protocols.length > 0) {
      protocol = info.protocols.find((p) => ENCODING_BY_PROTOCOL.has(p));
      if (!protocol) return jsonError(400, ErrorCode.UNSUPPORTED_ENCODING, `none of the subprotocols [${info.protocols.join(", ")}] is supported; use ${Object.values(SUBPROTOCOL).join(" or ")}`);
      encoding = ENCODING_BY_PROTOCOL.get(protocol)!;
    } else {
      const q = info.url.searchParams.get("encoding");
      if (q !== null) {
        if (q !== "msgpack" && q !== "json") return jsonError(400, ErrorCode.UNSUPPORTED_ENCODING, `encoding '${q.slice(0, 32)}' is not supported; use msgpack or json`);
        encoding = q;
      }
    }
    const asked = info.headers.get("x-tickgate-client") ?? info.url.searchParams.get("client");
    let client: ClientType = info.headers.has("origin") ? "browser" : "api";
    if (asked !== null) {
      if (!(CLIENT_TYPES as readonly string[]).includes(asked)) return jsonError(400, ErrorCode.INVALID_FRAME, `client type '${asked.slice(0, 32)}' is not one of ${CLIENT_TYPES.join(", ")}`);
      client = asked as ClientType;
    }
    const token = bearerToken(info.headers, info.url, this.options.auth.queryToken);
    const admitted = await this.admission.admit(token);
    if (isRefusal(admitted)) {
      this.log.warn({ event: "auth_failed", via: "upgrade", ip: info.remoteAddress, reason: admitted.message }, "token refused");
      return jsonError(admitted.status, admitted.code, admitted.message);
    }
    const b = this.options.errorBudget;
    const s = new Session(crypto.randomUUID(), encoding, admitted.identity?.client ?? client, info.remoteAddress, new TokenBucket(b.burst, b.perSecond), admitted.grants);
    s.identity = admitted.identity;
    s.awaitingAuth = admitted.awaitingAuth;
    if (s.identity && s.client === "device" && isDeviceId(s.identity.sub)) s.deviceId = s.identity.sub;
    return protocol ? { state: s, protocol } : { state: s };
  }

  onOpen(socket: ServerSocket, s: Session): void {
    s.socket = socket;
    this.#sessions.add(s);
    this.#conns.connections++;
    this.#conns.byClient[s.client]++;
    this.log.info({ event: "connect", session: s.id, ip: s.remoteAddress, client: s.client, encoding: s.encoding, who: s.identity?.sub }, "connection opened");
    this.#emit("open", s);
    const o = this.options;
    this.send(s, {
      t: "welcome",
      session: s.id,
      ts: Date.now(),
      encoding: s.encoding,
      client: s.client,
      server: { name: "tickgate", version: VERSION, node: this.#bus.epoch },
      limits: { maxFrameBytes: o.maxFrameBytes, maxPayload: o.defaultPolicy.maxPayload, maxSubscriptions: o.maxSubscriptions },
      commands: COMMANDS,
      methods: this.requests.methods(),
      ...(o.topics.length > 0 ? { topics: [...o.topics] } : {}),
    });
    if (s.awaitingAuth) {
      s.authTimer = setTimeout(() => {
        this.admission.counters.authTimeouts++;
        this.log.warn({ event: "auth_timeout", session: s.id, ip: s.remoteAddress }, "no auth frame in time");
        s.socket?.close(CloseCode.AUTH_TIMEOUT, "no auth frame in time");
      }, o.auth.timeoutMs);
    } else this.authenticated(s);
  }

  /** Runs once a connection may act: expiry timer, device presence. */
  authenticated(s: Session): void {
    clearTimeout(s.authTimer);
    s.authTimer = undefined;
    this.#armExpiry(s);
    if (s.deviceId !== undefined && s.client === "device") this.attachDevice(s);
  }

  /** Closes the connection when its token expires (plus the clock tolerance). */
  #armExpiry(s: Session): void {
    const exp = s.identity?.expiresAt;
    if (exp === undefined) return;
    const at = exp + this.options.auth.clockToleranceSec * 1000;
    s.authTimer = setTimeout(() => {
      // Timers cap at ~24.8 days; a longer-lived token re-arms.
      if (Date.now() < at) return this.#armExpiry(s);
      this.admission.counters.expired++;
      this.log.info({ event: "token_expired", session: s.id, who: s.identity?.sub, ip: s.remoteAddress }, "token expired");
      this.send(s, { t: "error", code: ErrorCode.TOKEN_EXPIRED, message: "token expired; reconnect with a fresh one" });
      s.socket?.close(CloseCode.TOKEN_EXPIRED, "token expired");
    }, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
  }

  /** @internal Announces a device once per connection (not again on token refresh). */
  attachDevice(s: Session): void {
    if (s.deviceAttached) return;
    s.deviceAttached = true;
    this.devices.attach(s);
  }

  /** What any connection may see when auth is on: no per-topic or resource detail. */
  publicStats(): Pick<StatsSnapshot, "connections" | "sessions"> & { uptimeSec: number; devicesOnline: number } {
    const s = this.#statsCollector.snapshot(0);
    return { connections: s.connections, sessions: s.sessions, uptimeSec: s.server.uptimeSec, devicesOnline: this.devices.online };
  }

  onClose(s: Session, code: number, reason: string): void {
    if (s.closed) return;
    s.closed = true;
    clearTimeout(s.authTimer);
    this.#sessions.delete(s);
    this.#conns.connections--;
    this.#conns.byClient[s.client]--;
    this.admission.closed(s.remoteAddress);
    this.broker.detach(s);
    this.devices.detach(s, code, reason);
    const abnormal = !NORMAL_CLOSE.has(code);
    // A device connection replaced by a newer one has no will left to give: the device is back.
    const replaced = s.deviceId !== undefined && s.deviceAttached && this.devices.isOnline(s.deviceId);
    if (abnormal && s.will && !replaced) {
      // As the client, so the will obeys the same policies as its publishes.
      try {
        const r = this.broker.publish(s.will.topic, { value: s.will.data }, s.will.key, "client");
        if (typeof r !== "number") r.catch(() => {});
      } catch (e) {
        this.log.warn({ event: "will_failed", session: s.id, topic: s.will.topic, err: String(e) }, "last will not published");
      }
    }
    this.log.info({ event: "disconnect", session: s.id, ip: s.remoteAddress, who: s.identity?.sub, code, reason, abnormal }, "connection closed");
    this.#emit("close", s, code);
  }

  /** @internal Moves a session between client-type counters. */
  reclassify(s: Session, client: ClientType): void {
    this.#conns.byClient[s.client]--;
    s.client = client;
    this.#conns.byClient[s.client]++;
  }

  onDrain(s: Session): void {
    this.guard.promote(s);
  }

  fetch(req: Request, remoteAddress: string): Response | Promise<Response> {
    if (this.#routes.size > 0) {
      const url = new URL(req.url);
      const custom = this.#routes.get(`${req.method} ${url.pathname}`);
      if (custom) return custom(req, { server: this, remoteAddress, url });
    }
    if (this.#http) return this.#http(req, this, remoteAddress);
    return new Response("not found", { status: 404 });
  }

  onMessage(s: Session, data: Uint8Array | string): void {
    const len = typeof data === "string" ? data.length : data.byteLength;
    s.messagesIn++;
    s.bytesIn += len;
    this.#conns.messagesIn++;
    this.#conns.bytesIn += len;
    let d: Decoded;
    try {
      d = typeof data === "string" ? decodeText(data) : decodeBinary(data);
    } catch (e) {
      if (e instanceof DecodeError) return this.fail(s, e.code, e.message, e.frameId);
      throw e;
    }
    const id = d.frame.id;
    if (this.#closing) return this.fail(s, ErrorCode.SHUTTING_DOWN, "server is shutting down", id);
    try {
      this.#dispatcher.dispatch(s, d);
    } catch (e) {
      this.failWith(s, e, id);
    }
  }

  /** @internal Encodes and sends a frame in the session's encoding. */
  send(s: Session, frame: ServerFrame): void {
    let bytes: Uint8Array | string;
    try {
      bytes = encodeFrame(frame, s.json);
    } catch (e) {
      // e.g. a request handler returned a value with no msgpack/JSON form
      this.log.error({ event: "encode_failed", session: s.id, type: frame.t, err: String(e) }, "frame could not be encoded");
      const id = "id" in frame ? frame.id : undefined;
      const err: ServerFrame = { t: "error", code: ErrorCode.INTERNAL, message: "reply could not be encoded" };
      if (id !== undefined) err.id = id;
      bytes = encodeFrame(err, s.json);
    }
    s.send(bytes);
  }

  /** @internal */
  failWith(s: Session, e: unknown, id: FrameId | undefined): void {
    if (e instanceof TickgateError) return this.fail(s, e.code, e.message, id, e.details);
    this.log.error({ event: "internal_error", session: s.id, err: String((e as Error)?.stack ?? e) }, "frame handling failed");
    this.fail(s, ErrorCode.INTERNAL, "internal error; the frame had no effect", id);
  }

  /** @internal Sends an error frame; a peer that exhausts its error budget is closed as abusive. */
  fail(s: Session, code: string, message: string, id?: FrameId, details?: Record<string, unknown>): void {
    if (s.closed) return;
    // Messages quote client input cut to length; never split a surrogate pair on the wire.
    const frame: ServerFrame = { t: "error", code, message: message.toWellFormed() };
    if (id !== undefined) frame.id = id;
    if (details) frame.details = details;
    this.send(s, frame);
    // Only the peer's own mistakes spend its budget; a failing handler or a
    // shutdown must never get a well-behaved client closed as abusive.
    if (CLIENT_FAULTS.has(code) && !s.errors.take()) {
      this.log.warn({ event: "abuse", session: s.id, ip: s.remoteAddress, code }, "too many bad frames; closing");
      s.socket?.close(CloseCode.TOO_MANY_ERRORS, "too many bad frames");
    }
  }

  /** @internal An audit line for every refused action: who, from where, what. */
  audit(s: Session, action: string, target: string): void {
    this.auditRequest(s.identity?.sub, s.remoteAddress, action, target, s.id);
  }

  /** @internal The same audit line for requests that have no session (HTTP). */
  auditRequest(who: string | undefined, ip: string, action: string, target: string, session?: string): void {
    this.admission.counters.forbidden++;
    this.log.warn({ event: "forbidden", who: who ?? "anonymous", session, ip, action, target }, "permission denied");
  }

  readonly #httpBuckets = new Map<string, TokenBucket>();

  /**
   * @internal HTTP publishes share the per-connection publish limit, keyed by
   * the token's subject or else the address, so HTTP is no way around it.
   */
  takeHttpPublish(who: string | undefined, ip: string): boolean {
    const key = who === undefined ? `ip:${ip}` : `sub:${who}`;
    let b = this.#httpBuckets.get(key);
    if (!b) {
      // Bounded: a flood of distinct keys resets the table rather than growing it.
      if (this.#httpBuckets.size >= 10_000) this.#httpBuckets.clear();
      b = new TokenBucket(this.options.limits.publishBurst, this.options.limits.publishPerSecond);
      this.#httpBuckets.set(key, b);
    }
    if (b.take()) return true;
    this.admission.counters.rateLimited++;
    this.log.warn({ event: "limit", code: ErrorCode.RATE_LIMITED, via: "http", who, ip }, "publish rate limit hit");
    return false;
  }
}

function jsonError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}
