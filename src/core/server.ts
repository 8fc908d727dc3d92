/**
 * The server façade: builds the parts and offers the public API
 * ({@link TickgateServer}). The connection host (`host.ts`) admits
 * connections and runs their frames, the gate (`gate.ts`) allows or refuses
 * every action, replies (`replies.ts`) answers. No runtime is imported: the
 * transport and the bus are handed in. Nothing here runs per delivery; per
 * HTTP request with an asynchronous answer, one entry in a set (so a
 * shutdown can wait for the answer, or give one).
 * @module
 */
import { forwardedResolver } from "./forwarded.ts";
import { ErrorCode } from "../protocol/codes.ts";
import type { ClientType } from "../protocol/frames.ts";
import { assertOneValue } from "../protocol/msgpack-scan.ts";
import { CloseCode } from "../protocol/codes.ts";
import { Admission } from "./auth/admission.ts";
import { TokenVerifier } from "./auth/tokens.ts";
import { httpUrl, type ListenAddress, type PublishOptions, type RequestSchema, type RouteHandler, type TickgateServer } from "./api.ts";
import { Broker } from "./broker.ts";
import { LocalBus, newEpoch, type Bus } from "./bus.ts";
import type { ClusterView } from "./cluster.ts";
import { DeviceRegistry } from "./devices.ts";
import { ProtocolError } from "./errors.ts";
import { Gate } from "./gate.ts";
import { ConnectionHost, type ConnectionListener } from "./host.ts";
import { LegacyHost, type LegacyProtocol } from "./legacy.ts";
import { silentLogger, type Logger } from "./log.ts";
import { parseOptions, type Options } from "./options.ts";
import { PolicyTable } from "./policy.ts";
import { Replies, errorResponse } from "./replies.ts";
import { RequestRouter, type RequestContext, type RequestHandler } from "./requests.ts";
import { SlowConsumerGuard } from "./slow-consumers.ts";
import { ConnectionCounters, StatsCollector, type ProcessProbe, type StatsSnapshot } from "./stats.ts";
import { CompositeTransport, StreamTransport } from "./streams.ts";
import type { Transport } from "./transport.ts";
import { VERSION } from "./version.ts";

export type { TickgateServer, PublishOptions, RequestSchema, RouteHandler, ListenAddress };

/** Plain HTTP beside the WebSocket path (see `http/routes.ts`); gets the implementation, which HTTP handlers drive. */
export type HttpHandler = (req: Request, server: TickgateServerImpl, remoteAddress: string) => Response | Promise<Response>;

export interface ServerDeps {
  transport: Transport;
  /** Defaults to a single-node {@link LocalBus}. */
  bus?: Bus;
  log?: Logger;
  /** HTTP routes other than the WebSocket path; see `http/routes.ts`. */
  http?: HttpHandler;
  /** CPU and memory of the process, for stats; the adapter gives its runtime's. */
  probe?: ProcessProbe;
}

/** @internal The implementation behind {@link TickgateServer}; reachable from `tickgate/internal` only. */
export class TickgateServerImpl implements TickgateServer {
  readonly options: Options;
  readonly log: Logger;
  readonly broker: Broker;
  readonly requests: RequestRouter;
  readonly guard: SlowConsumerGuard;
  readonly admission: Admission;
  readonly devices: DeviceRegistry;
  readonly gate: Gate;
  readonly replies: Replies;
  readonly host: ConnectionHost;
  /** What the transport drives: the host, plus any legacy protocols' paths. */
  readonly legacyHost: LegacyHost;
  /** SSE streams and any other connection the native runtime does not carry. */
  readonly streams = new StreamTransport();
  readonly wsPath: string;
  /** This node's id in a cluster (the epoch is the cluster's, so shared). */
  readonly node = newEpoch();
  readonly #transport: Transport;
  readonly #bus: Bus;
  readonly #conns = new ConnectionCounters();
  readonly #statsCollector: StatsCollector;
  readonly #routes = new Map<string, RouteHandler>();
  #address: { host: string; port: number } | undefined;
  #closing: Promise<void> | undefined;
  /** Past the drain period: new work is refused. */
  #refusing = false;
  /** Ends the drain period early (a second close() asking for a shorter one). */
  #endDrain: (() => void) | undefined;
  /** HTTP requests whose Response is not ready yet: answered 503 if shutdown's grace period runs out. */
  readonly #inflight = new Set<() => void>();

  constructor(options: unknown, deps: ServerDeps) {
    const o = (this.options = parseOptions(options));
    this.wsPath = o.path;
    // One Transport.publish reaches native sockets and streams alike.
    this.#transport = new CompositeTransport(deps.transport, this.streams);
    this.#bus = deps.bus ?? new LocalBus();
    const log = (this.log = deps.log ?? silentLogger);
    this.guard = new SlowConsumerGuard(o.slowConsumer.nativeLimitBytes, {
      disconnect: (s, ch, buffered) => {
        log.warn({ event: "slow_consumer", action: "disconnect", session: s.id, ip: s.remoteAddress, topic: ch.key, buffered }, "slow consumer disconnected");
        // Close reasons are capped at 123 bytes; topic names are ASCII, so cut there.
        s.socket?.close(CloseCode.SLOW_CONSUMER, `slow consumer on '${ch.base}'`.slice(0, 120));
      },
      lagged: (s, ch, buffered) => {
        log.info({ event: "slow_consumer", action: ch.policy.action, session: s.id, ip: s.remoteAddress, topic: ch.key, buffered }, "slow consumer lagging");
      },
    }, o.slowConsumer.maxLagMs);
    this.broker = new Broker(o, new PolicyTable(o), this.#transport, this.#bus, this.guard, log);
    this.requests = new RequestRouter(o.requestTimeoutMs);
    const a = o.auth;
    this.admission = new Admission(o, a.secret || a.publicKey || a.jwks ? new TokenVerifier(a) : null);
    this.replies = new Replies(log);
    this.devices = new DeviceRegistry(o.devices, {
      publish: (topic, data, key) => void this.tryPublish(topic, data, key === undefined ? {} : { key }),
      sendCommand: (s, frame) => this.replies.send(s, frame),
      log,
    }, this.#bus.cluster);
    this.gate = new Gate({ options: o, broker: this.broker, requests: this.requests, devices: this.devices, counters: this.admission.counters, log });
    this.#statsCollector = new StatsCollector(VERSION, this.#bus.epoch, this.broker, this.guard, this.#conns, deps.probe);
    const http = deps.http;
    this.host = new ConnectionHost({
      options: o,
      admission: this.admission,
      broker: this.broker,
      guard: this.guard,
      devices: this.devices,
      requests: this.requests,
      gate: this.gate,
      replies: this.replies,
      conns: this.#conns,
      log,
      node: this.#bus.epoch,
      stats: (full) => (full ? this.stats() : this.publicStats()),
      closing: () => this.#refusing,
      fetch: (req, ip) => this.#fetch(req, ip, http),
    });
    this.legacyHost = new LegacyHost(this.host, this.streams, log, (s, code) => this.replies.spend(s, code));
  }

  async listen(): Promise<ListenAddress> {
    await this.#bus.attach(this.broker);
    await this.#joinCluster();
    const o = this.options;
    this.#address = await this.#transport.listen(this.legacyHost, {
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
    this.broker.start();
    this.devices.start();
    this.#statsCollector.start();
    return { ...this.#address, url: this.url };
  }

  /** Shares presence, commands, request handlers and figures with the other nodes, when the bus is a cluster's. */
  async #joinCluster(): Promise<void> {
    const c = this.#bus.cluster;
    if (!c) return;
    await c.start({
      node: this.node,
      figures: () => {
        let subscriptions = 0;
        for (const ch of this.broker.index.values()) subscriptions += ch.members.size;
        return { connections: this.#conns.connections, sessions: { ...this.#conns.byClient }, subscriptions, devicesOnline: this.devices.localOnline, methods: this.requests.localMethods() };
      },
      call: (method, data, ctx) => this.requests.callLocal(method, data, ctx),
      take: (device, cmd) => this.devices.take(device, cmd),
      drop: (device, session) => this.devices.drop(device, session),
      publish: (topic, data, key) => void this.tryPublish(topic, data, { key }),
    });
    this.requests.join(c);
  }

  get port(): number {
    if (!this.#address) throw new Error("server is not listening");
    return this.#address.port;
  }

  get url(): string {
    if (!this.#address) throw new Error("server is not listening");
    return httpUrl(this.#address.host, this.#address.port);
  }

  get wsUrl(): string {
    return `${this.url.replace(/^http/, "ws")}${this.options.path}`;
  }

  /**
   * Exact, pattern and filtered subscriptions (a filtered one counts whether
   * or not its filter would pass). One lookup per matching channel, like a publish.
   */
  subscribers(topic: string): number {
    let n = 0;
    for (const ch of this.broker.index.match(topic)) n += ch.members.size;
    return n;
  }

  /**
   * @example
   * server.legacy(device004({ kind: "pico", path: "/ws/pico" }));
   */
  legacy(protocol: LegacyProtocol): this {
    if (this.#address) throw new Error(`legacy protocol '${protocol.name}': register it before listen()`);
    this.legacyHost.register(protocol);
    return this;
  }

  /**
   * @example
   * server.route("GET", "/api/devices", () => Response.json(listDevices()));
   */
  route(method: string, path: string, handler: RouteHandler): this {
    if (!path.startsWith("/")) throw new Error(`route path must start with '/', got '${path}'`);
    this.#routes.set(`${method.toUpperCase()} ${path}`, handler);
    return this;
  }

  /** Runs once per connection, never per message. */
  on(event: "open" | "close", listener: ConnectionListener): () => void {
    return this.host.on(event, listener);
  }

  /** Cheap: a counter. */
  get connections(): number {
    return this.#conns.connections;
  }

  /** Cheap: counters. */
  get sessions(): Readonly<Record<ClientType, number>> {
    return { ...this.#conns.byClient };
  }

  /**
   * @example
   * server.publish("prices.BTC-USD", { bid: 64000.5, ask: 64001 }, { key: "BTC-USD" });
   */
  publish(topic: string, data: unknown, opts: PublishOptions = {}): number | Promise<number> {
    return this.broker.publish(topic, { value: data }, opts.key, "server", opts.tags);
  }

  /** The bytes are checked like a client's. */
  publishRaw(topic: string, raw: Uint8Array, opts: PublishOptions = {}): number | Promise<number> {
    try {
      assertOneValue(raw);
    } catch (e) {
      throw new ProtocolError(ErrorCode.BAD_PAYLOAD, `raw payload is not one msgpack value: ${(e as Error).message}`);
    }
    return this.broker.publish(topic, { raw }, opts.key, "server", opts.tags);
  }

  /**
   * Returns the seq (a seq is never 0), or `undefined` when the publication
   * was refused (logged) or is sequenced later by an asynchronous bus
   * (failures logged).
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
   * With a `schema` (any object with zod's `safeParse`), bad input is
   * refused with INVALID_FRAME naming the field, before the handler runs. A
   * handler may throw `new TickgateError("YOUR_CODE", message)`: the caller
   * gets that code.
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

  /** Queued while the device is offline, resent until it acks. */
  command(device: string, name: string, data?: unknown, opts: { ttlMs?: number } = {}): Promise<unknown> {
    return this.devices.command(device, name, data, opts.ttlMs);
  }

  stats(top?: number): StatsSnapshot {
    const s = this.#statsCollector.snapshot(top);
    s.devicesOnline = this.devices.online;
    s.security = { ...this.admission.counters };
    const view = this.#bus.cluster?.view();
    if (view) s.cluster = view;
    return s;
  }

  /** What any connection may see when auth is on: no per-topic or resource detail. */
  publicStats(): Pick<StatsSnapshot, "connections" | "sessions"> & { uptimeSec: number; devicesOnline: number; cluster?: Pick<ClusterView, "connections" | "sessions"> & { nodes: number } } {
    const s = this.#statsCollector.snapshot(0);
    const out: ReturnType<TickgateServerImpl["publicStats"]> = { connections: s.connections, sessions: s.sessions, uptimeSec: s.server.uptimeSec, devicesOnline: this.devices.online };
    const view = this.#bus.cluster?.view();
    if (view) out.cluster = { nodes: view.nodes.length, connections: view.connections, sessions: view.sessions };
    return out;
  }

  close(opts: { drainMs?: number } = {}): Promise<void> {
    if (this.#closing) {
      if (opts.drainMs === 0) this.#endDrain?.();
      return this.#closing;
    }
    return (this.#closing = this.#shutdown(opts.drainMs ?? this.options.drainMs));
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Past the drain period: upgrades, frames and streams are refused with SHUTTING_DOWN. */
  get refusing(): boolean {
    return this.#refusing;
  }

  /**
   * The drain, in order: readiness fails at once (`closing`), everything
   * else serves on for `drainMs`; then new work is refused, device commands
   * still waiting are answered SHUTTING_DOWN, streams and sockets are closed
   * with 1001, and the listener stops only once every socket is gone, every
   * stream has handed over its last byte and every HTTP request has its
   * answer (or `shutdownGraceMs` ran out: those left are answered 503).
   */
  async #shutdown(drainMs: number): Promise<void> {
    const log = this.log;
    log.info({ event: "drain", drainMs }, "draining: /ready answers 503");
    if (drainMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, drainMs);
        this.#endDrain = () => (clearTimeout(t), resolve());
      });
    }
    this.#endDrain = undefined;
    this.#refusing = true;
    this.guard.stop();
    this.broker.stop();
    this.devices.stop();
    this.#statsCollector.stop();
    // The listener stays open until the end, so late upgrades, streams and
    // posts get a 503 SHUTTING_DOWN rather than a refused connection.
    await this.streams.stop(false);
    const open = this.host.open;
    for (const s of open) s.socket?.close(CloseCode.GOING_AWAY, "server shutting down");
    const settled = () => open.size === 0 && this.streams.unfinished === 0 && this.#inflight.size === 0;
    // Nothing open (no socket, stream or request): close at once, without a turn of the event loop.
    if (!settled()) {
      const deadline = Date.now() + this.options.shutdownGraceMs;
      while (!settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (this.#inflight.size > 0) {
        log.warn({ event: "shutdown_cut", requests: this.#inflight.size }, "HTTP requests still pending at the end of the grace period: answered 503");
        for (const cut of [...this.#inflight]) cut();
      }
      // One turn of the event loop, so the runtime writes the answers just given before connections are closed.
      await new Promise((r) => setTimeout(r, 0));
    }
    // Stop listening first: with nothing left open, Bun then closes without another turn of the event loop.
    await this.#transport.stop(false);
    await this.#transport.stop(true);
    await this.#bus.cluster?.stop();
    await this.#bus.detach(this.broker);
    log.info({ event: "closed" }, "server closed");
  }

  /** Tracks a pending HTTP answer, so shutdown can wait for it or, at the end of its grace, answer it. */
  #track(pending: Promise<Response>): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      // Whichever comes first, the answer or the cut, settles it; the other finds it gone.
      const settle = (f: () => void) => void (this.#inflight.delete(cut) && f());
      const cut = () => settle(() => resolve(errorResponse(ErrorCode.SHUTTING_DOWN, "server is shutting down; the request was not completed")));
      this.#inflight.add(cut);
      pending.then(
        (r) => settle(() => resolve(r)),
        (e: unknown) => settle(() => reject(e)),
      );
    });
  }

  #fetch(req: Request, remoteAddress: string, http: HttpHandler | undefined): Response | Promise<Response> {
    const r = this.#route(req, remoteAddress, http);
    return r instanceof Promise ? this.#track(r) : r;
  }

  #route(req: Request, remoteAddress: string, http: HttpHandler | undefined): Response | Promise<Response> {
    if (this.#routes.size > 0) {
      const url = new URL(req.url);
      const custom = this.#routes.get(`${req.method} ${url.pathname}`);
      if (custom) return custom(req, { server: this, remoteAddress, url });
    }
    if (http) return http(req, this, remoteAddress);
    return new Response("not found", { status: 404 });
  }
}
