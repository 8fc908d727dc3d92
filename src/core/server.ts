/**
 * The tickgate server: the core's side of the transport boundary. It turns
 * connections and frames into broker calls and answers with frames. It
 * imports no runtime: the transport and the bus are handed in.
 * @module
 */
import { CloseCode, ErrorCode } from "../protocol/codes.ts";
import { DecodeError, decodeBinary, decodeText, encodeFrame, type Decoded } from "../protocol/codec.ts";
import { CLIENT_TYPES, SUBPROTOCOL, clientFrameSchemas, type ClientFrameType, type ClientType, type Encoding, type FrameId, type ServerFrame } from "../protocol/frames.ts";
import { Broker } from "./broker.ts";
import { LocalBus, type Bus } from "./bus.ts";
import { TickgateError } from "./errors.ts";
import { silentLogger, type Logger } from "./log.ts";
import { parseOptions, type Options } from "./options.ts";
import { PolicyTable } from "./policy.ts";
import { RequestRouter, type RequestHandler } from "./requests.ts";
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

export interface PublishOptions {
  /** Conflation / retention key, e.g. the symbol of a tick. */
  key?: string;
}

const COMMANDS = Object.keys(clientFrameSchemas) as ClientFrameType[];
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
]);
const ENCODING_BY_PROTOCOL = new Map<string, Encoding>(Object.entries(SUBPROTOCOL).map(([e, p]) => [p, e as Encoding]));

export class TickgateServer implements TransportHost<Session> {
  readonly options: Options;
  readonly broker: Broker;
  readonly requests: RequestRouter;
  readonly guard: SlowConsumerGuard;
  readonly log: Logger;
  readonly wsPath: string;
  readonly #transport: Transport;
  readonly #bus: Bus;
  readonly #http: ServerDeps["http"];
  readonly #conns = new ConnectionCounters();
  readonly #sessions = new Set<Session>();
  readonly #statsCollector: StatsCollector;
  #address: { host: string; port: number } | undefined;
  #closing: Promise<void> | undefined;

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
        s.socket?.close(CloseCode.SLOW_CONSUMER, `slow consumer on '${ch.key}'`);
      },
      lagged: (s, ch, buffered) => {
        this.log.info({ event: "slow_consumer", action: ch.policy.action, session: s.id, ip: s.remoteAddress, topic: ch.key, buffered }, "slow consumer lagging");
      },
    });
    this.broker = new Broker(this.options, policies, this.#transport, this.#bus, this.guard);
    this.requests = new RequestRouter(this.options.requestTimeoutMs);
    const epoch = (this.#bus as { epoch?: string }).epoch ?? "";
    this.#statsCollector = new StatsCollector(VERSION, epoch, this.broker, this.guard, this.#conns);
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
    });
    this.guard.start(o.slowConsumer.checkIntervalMs);
    const host = this.#address.host.includes(":") ? `[${this.#address.host}]` : this.#address.host;
    return { ...this.#address, url: `http://${host}:${this.#address.port}` };
  }

  get port(): number {
    if (!this.#address) throw new Error("server is not listening");
    return this.#address.port;
  }

  /**
   * Publishes from a server-side producer. Same checks and fan-out as a
   * client's publish, except the policy's `publish: "server"` allows it.
   * @example
   * server.publish("prices.BTC-USD", { bid: 64000.5, ask: 64001 }, { key: "BTC-USD" });
   */
  publish(topic: string, data: unknown, opts: PublishOptions = {}): number | Promise<number> {
    return this.broker.publish(topic, { value: data }, opts.key, "server");
  }

  /** Registers a request handler, answered for `req` frames with this `method`. */
  handle(method: string, handler: RequestHandler): this {
    this.requests.register(method, handler);
    return this;
  }

  stats(top?: number): StatsSnapshot {
    return this.#statsCollector.snapshot(top);
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
    await this.#transport.stop(false);
    for (const s of this.#sessions) s.socket?.close(CloseCode.GOING_AWAY, "server shutting down");
    const deadline = Date.now() + this.options.shutdownGraceMs;
    while (this.#sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.#transport.stop(true);
    await this.#bus.detach(this.broker);
  }

  // ---- TransportHost ----

  upgrade(info: UpgradeInfo): { state: Session; protocol?: string } | Response {
    if (this.#closing) return jsonError(503, ErrorCode.SHUTTING_DOWN, "server is shutting down");
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
    const b = this.options.errorBudget;
    const s = new Session(crypto.randomUUID(), encoding, client, info.remoteAddress, new TokenBucket(b.burst, b.perSecond));
    return protocol ? { state: s, protocol } : { state: s };
  }

  onOpen(socket: ServerSocket, s: Session): void {
    s.socket = socket;
    this.#sessions.add(s);
    this.#conns.connections++;
    this.#conns.byClient[s.client]++;
    this.log.info({ event: "connect", session: s.id, ip: s.remoteAddress, client: s.client, encoding: s.encoding }, "connection opened");
    const o = this.options;
    this.#send(s, {
      t: "welcome",
      session: s.id,
      ts: Date.now(),
      encoding: s.encoding,
      client: s.client,
      server: { name: "tickgate", version: VERSION, node: this.#statsCollector.epoch },
      limits: { maxFrameBytes: o.maxFrameBytes, maxPayload: o.defaultPolicy.maxPayload, maxSubscriptions: o.maxSubscriptions },
      commands: COMMANDS,
      methods: this.requests.methods(),
    });
  }

  onClose(s: Session, code: number, reason: string): void {
    if (s.closed) return;
    s.closed = true;
    this.#sessions.delete(s);
    this.#conns.connections--;
    this.#conns.byClient[s.client]--;
    this.broker.detach(s);
    this.log.info({ event: "disconnect", session: s.id, ip: s.remoteAddress, code, reason, abnormal: code !== 1000 && code !== 1001 }, "connection closed");
  }

  onDrain(s: Session): void {
    this.guard.promote(s);
  }

  fetch(req: Request, remoteAddress: string): Response | Promise<Response> {
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
      if (e instanceof DecodeError) return this.#fail(s, e.code, e.message, e.frameId);
      throw e;
    }
    const id = d.frame.id;
    if (this.#closing) return this.#fail(s, ErrorCode.SHUTTING_DOWN, "server is shutting down", id);
    try {
      this.#dispatch(s, d);
    } catch (e) {
      this.#failWith(s, e, id);
    }
  }

  #dispatch(s: Session, { frame, payload }: Decoded): void {
    switch (frame.t) {
      case "sub": {
        const plan = this.broker.prepareSubscribe(s, frame.topic, frame.recover);
        // The ack (with the recovery verdict) goes first, then the backlog and live frames.
        if (frame.id !== undefined) this.#send(s, { t: "ack", id: frame.id, ...plan.ack });
        this.broker.join(s, plan);
        return;
      }
      case "unsub":
        this.broker.unsubscribe(s, frame.topic);
        if (frame.id !== undefined) this.#send(s, { t: "ack", id: frame.id });
        return;
      case "pub": {
        const seq = this.broker.publish(frame.topic, payload!, frame.key, "client");
        if (frame.id === undefined) return;
        const id = frame.id;
        if (typeof seq === "number") this.#send(s, { t: "ack", id, seq });
        else seq.then((n) => this.#send(s, { t: "ack", id, seq: n }), (e) => this.#failWith(s, e, id));
        return;
      }
      case "ping":
        this.#send(s, frame.id === undefined ? { t: "pong", ts: Date.now() } : { t: "pong", id: frame.id, ts: Date.now() });
        return;
      case "stats":
        this.#send(s, { t: "stats", ...(frame.id === undefined ? {} : { id: frame.id }), data: { ...this.stats(), session: sessionStats(s) } });
        return;
      case "req": {
        const id = frame.id;
        this.requests.call(frame.method, frame.data, { session: s.id, client: s.client, remoteAddress: s.remoteAddress }).then(
          (data) => this.#send(s, { t: "res", id, data: data ?? null }),
          (e) => this.#failWith(s, e, id),
        );
        return;
      }
      case "hello":
        this.#conns.byClient[s.client]--;
        s.client = frame.client;
        this.#conns.byClient[s.client]++;
        if (frame.meta) s.meta = frame.meta;
        if (frame.id !== undefined) this.#send(s, { t: "ack", id: frame.id });
        return;
    }
  }

  #send(s: Session, frame: ServerFrame): void {
    let bytes: Uint8Array | string;
    try {
      bytes = encodeFrame(frame, s.json);
    } catch (e) {
      // e.g. a request handler returned a value with no msgpack/JSON form
      this.log.error({ event: "encode_failed", session: s.id, type: frame.t, err: String(e) }, "frame could not be encoded");
      const id = "id" in frame ? frame.id : undefined;
      bytes = encodeFrame(id === undefined ? { t: "error", code: ErrorCode.INTERNAL, message: "reply could not be encoded" } : { t: "error", id, code: ErrorCode.INTERNAL, message: "reply could not be encoded" }, s.json);
    }
    s.send(bytes);
  }

  #failWith(s: Session, e: unknown, id: FrameId | undefined): void {
    if (e instanceof TickgateError) return this.#fail(s, e.code, e.message, id, e.details);
    this.log.error({ event: "internal_error", session: s.id, err: String((e as Error)?.stack ?? e) }, "frame handling failed");
    this.#fail(s, ErrorCode.INTERNAL, "internal error; the frame had no effect", id);
  }

  /** Sends an error frame; a peer that exhausts its error budget is closed as abusive. */
  #fail(s: Session, code: string, message: string, id?: FrameId, details?: Record<string, unknown>): void {
    if (s.closed) return;
    const frame: ServerFrame = { t: "error", code, message };
    if (id !== undefined) frame.id = id;
    if (details) frame.details = details;
    this.#send(s, frame);
    // Only the peer's own mistakes spend its budget; a failing handler or a
    // shutdown must never get a well-behaved client closed as abusive.
    if (CLIENT_FAULTS.has(code) && !s.errors.take()) {
      this.log.warn({ event: "abuse", session: s.id, ip: s.remoteAddress, code }, "too many bad frames; closing");
      s.socket?.close(CloseCode.TOO_MANY_ERRORS, "too many bad frames");
    }
  }
}

function sessionStats(s: Session) {
  return { id: s.id, client: s.client, subscriptions: s.subs.size, messagesIn: s.messagesIn, dropped: s.dropped, conflated: s.conflated, connectedAt: s.connectedAt };
}

function jsonError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}
