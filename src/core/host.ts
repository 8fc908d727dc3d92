/**
 * The connection host: the core's side of the transport boundary
 * ({@link TransportHost}). It admits upgrades (origin, limits, token,
 * encoding, client type), opens and closes sessions, runs the auth deadline
 * and token-expiry timers, and hands every decoded frame to the dispatcher.
 * Every transport (native WebSocket, SSE streams) drives the same host. Per
 * message: one decode and one dispatch; nothing per delivery.
 * @module
 */
import { CloseCode, ErrorCode, NORMAL_CLOSES } from "../protocol/codes.ts";
import { DecodeError, decodeBinary, decodeText, type Decoded } from "../protocol/codec.ts";
import { frameCaps, type FrameCaps } from "../protocol/frame-caps.ts";
import { BATCH_SUBPROTOCOL, CLIENT_TYPES, SUBPROTOCOL, clientFrameSchemas, type ClientFrameType, type ClientType, type Encoding } from "../protocol/frames.ts";
import { bearerToken, isRefusal, type Admission, type Admitted, type Refusal } from "./auth/admission.ts";
import type { Broker } from "./broker.ts";
import type { RequestAuth } from "./caller.ts";
import { isDeviceId, type DeviceRegistry } from "./devices.ts";
import { Dispatcher } from "./dispatch.ts";
import type { Gate } from "./gate.ts";
import { Liveness } from "./liveness.ts";
import type { Logger } from "./log.ts";
import type { Options } from "./options.ts";
import { errorResponse, type Replies } from "./replies.ts";
import type { RequestRouter } from "./requests.ts";
import { Session } from "./session.ts";
import type { SlowConsumerGuard } from "./slow-consumers.ts";
import type { ConnectionCounters } from "./stats.ts";
import type { ServerSocket, TransportHost, UpgradeInfo } from "./transport.ts";
import { VERSION } from "./version.ts";
import { WelcomeFrames } from "./welcome.ts";

/** What `server.on("open" | "close")` listeners learn about a connection. */
export interface ConnectionInfo {
  /** The connection's session id. */
  session: string;
  client: ClientType;
  remoteAddress: string;
  /** The token's subject, when there is one. */
  who: string | undefined;
  /** Only on close. */
  code?: number;
}

export type ConnectionListener = (info: ConnectionInfo) => void;

export interface HostDeps {
  options: Options;
  admission: Admission;
  broker: Broker;
  guard: SlowConsumerGuard;
  devices: DeviceRegistry;
  requests: RequestRouter;
  gate: Gate;
  replies: Replies;
  conns: ConnectionCounters;
  log: Logger;
  /** The node's id in `welcome` (the bus epoch). */
  node: string;
  /** The `stats` frame's data: the whole server, or the public summary. */
  stats(full: boolean): object;
  /** Whether shutdown has begun. */
  closing(): boolean;
  /** Plain HTTP requests. */
  fetch(req: Request, remoteAddress: string): Response | Promise<Response>;
}

const COMMANDS = Object.keys(clientFrameSchemas) as ClientFrameType[];
const ENCODING_BY_PROTOCOL = new Map<string, Encoding>([...Object.entries(SUBPROTOCOL), ...Object.entries(BATCH_SUBPROTOCOL)].map(([e, p]) => [p, e as Encoding]));
const BATCH_PROTOCOLS = new Set(Object.values(BATCH_SUBPROTOCOL));
const MAX_TIMER_MS = 2 ** 31 - 1;
/** RFC 6455: a close frame's reason is at most 123 bytes of UTF-8. */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * An upgrade on the native path refused only for its Origin. A browser
 * cannot read an HTTP answer to an upgrade (its WebSocket just fails, 1006),
 * so the handshake completes and the socket is closed at once with 4406 and
 * a reason naming the origin. It is no session: it takes no connection slot,
 * gets no welcome, and every frame that races in is ignored, so a page on a
 * foreign site can do nothing with it but read why.
 */
export class RefusedUpgrade {
  constructor(
    readonly remoteAddress: string,
    /** The close reason, already cut to fit a close frame. */
    readonly reason: string,
  ) {}
}

/** `s` cut to at most `max` bytes of UTF-8, never inside a character. */
function cutUtf8(s: string, max: number): string {
  let bytes = 0;
  let i = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes > max) return s.slice(0, i);
    i += ch.length;
  }
  return s;
}

type HostState = Session | RefusedUpgrade;
/** A granted upgrade: the connection's state and the subprotocol to answer with. */
type Granted<S> = { state: S; protocol?: string };

export class ConnectionHost implements TransportHost<HostState> {
  readonly wsPath: string;
  readonly #d: HostDeps;
  readonly #dispatcher: Dispatcher;
  readonly #caps: FrameCaps;
  readonly #liveness: Liveness;
  readonly #welcome = new WelcomeFrames();
  /** Open connections, to close them on shutdown. */
  readonly open = new Set<Session>();
  readonly #listeners = { open: new Set<ConnectionListener>(), close: new Set<ConnectionListener>() };

  constructor(deps: HostDeps) {
    this.#d = deps;
    this.wsPath = deps.options.path;
    this.#caps = frameCaps(deps.options.maxFrameBytes);
    this.#liveness = new Liveness(deps.options.idleTimeoutSec, this.open, {
      dead: (s, silentMs) => {
        deps.log.warn({ event: "peer_timeout", session: s.id, ip: s.remoteAddress, who: s.identity?.sub, silentMs }, "peer did not answer a ping; closing");
        s.socket?.close(CloseCode.PEER_TIMEOUT, "no answer to ping");
      },
    });
    this.#dispatcher = new Dispatcher({
      gate: deps.gate,
      replies: deps.replies,
      broker: deps.broker,
      devices: deps.devices,
      admission: deps.admission,
      log: deps.log,
      stats: deps.stats,
      reclassify: (s, c) => this.reclassify(s, c),
      attachDevice: (s) => this.attachDevice(s),
      authenticated: (s) => this.authenticated(s),
    });
  }

  /** Listens to connections opening and closing; returns a function that stops listening. */
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
        this.#d.log.error({ event: "listener_failed", on: event, err: String(e) }, "connection listener threw");
      }
    }
  }

  /**
   * What an HTTP request may do, from its bearer token; a Response when it
   * is refused. With auth off, everything is allowed.
   */
  async authorize(req: Request, remoteAddress?: string): Promise<RequestAuth | Response> {
    const token = bearerToken(req.headers, new URL(req.url), this.#d.options.auth.queryToken);
    const r = await this.#d.admission.admit(token);
    if (isRefusal(r)) {
      this.#d.log.warn({ event: "auth_failed", via: "http", ip: remoteAddress, reason: r.message }, "token refused");
      return errorResponse(r.code, r.message, undefined, r.status);
    }
    if (r.awaitingAuth) return errorResponse(ErrorCode.UNAUTHORIZED, "a bearer token is required");
    return { identity: r.identity, grants: r.grants };
  }

  /** Settles at once unless a token must be verified: a promise makes the runtime finish the upgrade a turn later. */
  upgrade(info: UpgradeInfo): Granted<HostState> | Response | Promise<Granted<HostState> | Response> {
    const { admission, log } = this.#d;
    if (this.#d.closing()) return errorResponse(ErrorCode.SHUTTING_DOWN, "server is shutting down");
    const refused = admission.gate(info.headers, info.remoteAddress);
    if (refused) {
      log.warn({ event: "limit", code: refused.code, ip: info.remoteAddress, origin: info.headers.get("origin") ?? undefined }, refused.message);
      // Only on the native path (SSE and legacy paths keep the HTTP answer),
      // and only when the limits would have let it in: over them, the
      // refused sockets would be connections nobody counts.
      if (refused.code === ErrorCode.ORIGIN_NOT_ALLOWED && (info.via ?? "ws") === "ws" && info.url.pathname === this.wsPath && admission.hasRoom(info.remoteAddress)) {
        const state = new RefusedUpgrade(info.remoteAddress, cutUtf8(refused.message, MAX_CLOSE_REASON_BYTES));
        // A browser fails a handshake that answers none of its subprotocols, before it would see the close.
        const protocol = info.protocols.find((p) => ENCODING_BY_PROTOCOL.has(p)) ?? info.protocols[0];
        return protocol ? { state, protocol } : { state };
      }
      return errorResponse(refused.code, refused.message, undefined, refused.status);
    }
    // The slot is taken now, before any await, so concurrent upgrades cannot
    // all pass the limit; every refusal below gives it back.
    admission.opened(info.remoteAddress);
    const r = this.#upgradeAdmitted(info);
    if (r instanceof Promise) {
      return r.then((x) => {
        if (x instanceof Response) admission.closed(info.remoteAddress);
        return x;
      });
    }
    if (r instanceof Response) admission.closed(info.remoteAddress);
    return r;
  }

  /** The transport could not complete an upgrade it was granted: give the slot back. */
  abandon(s: HostState): void {
    if (s instanceof RefusedUpgrade) return;
    if (s.socket === null && !s.closed) {
      s.closed = true;
      this.#d.admission.closed(s.remoteAddress);
    }
  }

  #upgradeAdmitted(info: UpgradeInfo): Granted<Session> | Response | Promise<Granted<Session> | Response> {
    const o = this.#d.options;
    // Most upgrades have no query: its parameters are not parsed then.
    const query = info.url.search.length > 1;
    let encoding: Encoding = o.defaultEncoding;
    let protocol: string | undefined;
    // A client that cannot name a subprotocol of its choosing (a raw load client, a device) asks with `?batch=1`.
    let batch = query && info.url.searchParams.get("batch") === "1";
    if (info.protocols.length > 0) {
      protocol = info.protocols.find((p) => ENCODING_BY_PROTOCOL.has(p));
      // 400, not the code's 415: an upgrade has no content type to blame.
      if (!protocol) return errorResponse(ErrorCode.UNSUPPORTED_ENCODING, `none of the subprotocols [${info.protocols.join(", ")}] is supported; use ${Object.values(SUBPROTOCOL).join(" or ")}`, undefined, 400);
      encoding = ENCODING_BY_PROTOCOL.get(protocol)!;
      batch ||= BATCH_PROTOCOLS.has(protocol);
    } else if (query) {
      const q = info.url.searchParams.get("encoding");
      if (q !== null) {
        if (q !== "msgpack" && q !== "json") return errorResponse(ErrorCode.UNSUPPORTED_ENCODING, `encoding '${q.slice(0, 32)}' is not supported; use msgpack or json`, undefined, 400);
        encoding = q;
      }
    }
    const asked = info.headers.get("x-tickgate-client") ?? (query ? info.url.searchParams.get("client") : null);
    let client: ClientType = info.headers.has("origin") ? "browser" : "api";
    if (asked !== null) {
      if (!(CLIENT_TYPES as readonly string[]).includes(asked)) return errorResponse(ErrorCode.INVALID_FRAME, `client type '${asked.slice(0, 32)}' is not one of ${CLIENT_TYPES.join(", ")}`);
      client = asked as ClientType;
    }
    const token = bearerToken(info.headers, info.url, o.auth.queryToken && query);
    const admitted = this.#d.admission.admitNow(token);
    if (admitted instanceof Promise) return admitted.then((a) => this.#session(info, encoding, client, protocol, batch, a));
    return this.#session(info, encoding, client, protocol, batch, admitted);
  }

  #session(info: UpgradeInfo, encoding: Encoding, client: ClientType, protocol: string | undefined, batch: boolean, admitted: Admitted | Refusal): Granted<Session> | Response {
    if (isRefusal(admitted)) {
      this.#d.log.warn({ event: "auth_failed", via: "upgrade", ip: info.remoteAddress, reason: admitted.message }, "token refused");
      return errorResponse(admitted.code, admitted.message, undefined, admitted.status);
    }
    const via = info.via ?? "ws";
    const s = new Session(crypto.randomUUID(), encoding, admitted.identity?.client ?? client, info.remoteAddress, this.#d.options.errorBudget, admitted.grants, via);
    s.identity = admitted.identity;
    s.awaitingAuth = admitted.awaitingAuth;
    // Batch frames ride native channels: only a WebSocket on the tickgate path can take them.
    s.batch = batch && via === "ws" && info.url.pathname === this.wsPath;
    if (s.identity && s.client === "device" && isDeviceId(s.identity.sub)) s.deviceId = s.identity.sub;
    return protocol ? { state: s, protocol } : { state: s };
  }

  onOpen(socket: ServerSocket, s: HostState): void {
    if (s instanceof RefusedUpgrade) return socket.close(CloseCode.ORIGIN_NOT_ALLOWED, s.reason);
    const { conns, log, options: o } = this.#d;
    s.socket = socket;
    s.guard = this.#d.guard;
    this.open.add(s);
    this.#liveness.watch();
    conns.connections++;
    conns.byClient[s.client]++;
    log.info({ event: "connect", session: s.id, ip: s.remoteAddress, client: s.client, encoding: s.encoding, who: s.identity?.sub, via: s.via }, "connection opened");
    this.#emit("open", s);
    const methods = this.#d.requests.methods();
    s.send(this.#welcome.frame(s.id, Date.now(), s.encoding, s.client, methods, () => ({
      encoding: s.encoding,
      client: s.client,
      server: { name: "tickgate", version: VERSION, node: this.#d.node },
      limits: { maxFrameBytes: o.maxFrameBytes, maxPayload: o.defaultPolicy.maxPayload, maxSubscriptions: o.maxSubscriptions },
      commands: COMMANDS,
      methods,
      ...(o.topics.length > 0 ? { topics: [...o.topics] } : {}),
    })));
    if (s.awaitingAuth) {
      s.authTimer = setTimeout(() => {
        this.#d.admission.counters.authTimeouts++;
        log.warn({ event: "auth_timeout", session: s.id, ip: s.remoteAddress }, "no auth frame in time");
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
    const at = exp + this.#d.options.auth.clockToleranceSec * 1000;
    s.authTimer = setTimeout(() => {
      // Timers cap at ~24.8 days; a longer-lived token re-arms.
      if (Date.now() < at) return this.#armExpiry(s);
      this.#d.admission.counters.expired++;
      this.#d.log.info({ event: "token_expired", session: s.id, who: s.identity?.sub, ip: s.remoteAddress }, "token expired");
      this.#d.replies.send(s, { t: "error", code: ErrorCode.TOKEN_EXPIRED, message: "token expired; reconnect with a fresh one" });
      s.socket?.close(CloseCode.TOKEN_EXPIRED, "token expired");
    }, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
  }

  /** Announces a device once per connection (not again on token refresh). */
  attachDevice(s: Session): void {
    if (s.deviceAttached) return;
    s.deviceAttached = true;
    this.#d.devices.attach(s);
  }

  /** Moves a session between client-type counters. */
  reclassify(s: Session, client: ClientType): void {
    const c = this.#d.conns.byClient;
    c[s.client]--;
    s.client = client;
    c[s.client]++;
  }

  onClose(s: HostState, code: number, reason: string): void {
    if (s instanceof RefusedUpgrade || s.closed) return;
    const { conns, broker, devices, log } = this.#d;
    s.closed = true;
    clearTimeout(s.authTimer);
    this.open.delete(s);
    if (this.open.size === 0) this.#liveness.stop();
    conns.connections--;
    conns.byClient[s.client]--;
    this.#d.admission.closed(s.remoteAddress);
    broker.detach(s);
    const abnormal = !NORMAL_CLOSES.has(code);
    const w = s.will;
    // The registry runs the will unless the device is back on a newer connection (here or, in a cluster, on any node).
    devices.detach(s, code, reason, abnormal && w ? () => {
      // As the client, so the will obeys the same policies as its publishes.
      try {
        const r = broker.publish(w.topic, { value: w.data }, w.key, "client");
        if (typeof r !== "number") r.catch(() => {});
      } catch (e) {
        log.warn({ event: "will_failed", session: s.id, topic: w.topic, err: String(e) }, "last will not published");
      }
    } : undefined);
    log.info({ event: "disconnect", session: s.id, ip: s.remoteAddress, who: s.identity?.sub, device: s.deviceId, kind: s.meta.kind, code, reason, abnormal }, "connection closed");
    this.#emit("close", s, code);
  }

  onPong(s: HostState): void {
    if (s instanceof RefusedUpgrade) return;
    s.heard = true;
  }

  onDrain(s: HostState): void {
    if (s instanceof RefusedUpgrade) return;
    this.#d.guard.promote(s);
  }

  fetch(req: Request, remoteAddress: string): Response | Promise<Response> {
    return this.#d.fetch(req, remoteAddress);
  }

  onMessage(s: HostState, data: Uint8Array | string): void {
    // A refused upgrade's socket is closing: whatever races in is not read.
    if (s instanceof RefusedUpgrade) return;
    const len = typeof data === "string" ? data.length : data.byteLength;
    const conns = this.#d.conns;
    s.messagesIn++;
    s.heard = true;
    s.bytesIn += len;
    conns.messagesIn++;
    conns.bytesIn += len;
    let d: Decoded;
    try {
      d = typeof data === "string" ? decodeText(data, this.#caps) : decodeBinary(data, this.#caps);
    } catch (e) {
      if (e instanceof DecodeError) return this.#d.replies.fail(s, e.code, e.message, e.frameId);
      throw e;
    }
    const id = d.frame.id;
    if (this.#d.closing()) return this.#d.replies.fail(s, ErrorCode.SHUTTING_DOWN, "server is shutting down", id);
    try {
      this.#dispatcher.dispatch(s, d);
    } catch (e) {
      this.#d.replies.failWith(s, e, id);
    }
  }
}
