/**
 * The client's connection life cycle: open a link (WebSocket, or SSE + HTTP),
 * the handshake (`hello`, resubscribing with recover positions, the queued
 * frames), reconnecting with backoff, and the fallbacks: to SSE when no
 * WebSocket ever opens, and, after an open WebSocket is cut and does not come
 * back within `fallbackAfterMs`, to SSE while probing for the WebSocket and
 * switching back once it opens. Frames go through whichever link is current;
 * frames in are routed by `inbound.ts`. No per-message cost beyond the link's.
 * @internal
 * @module
 */
import { CloseCode, ErrorCode } from "../protocol/codes.ts";
import type { WelcomeFrame } from "../protocol/wire.ts";
import { CommandRouter } from "./commands.ts";
import type { Emitter } from "./emitter.ts";
import { authCloseError, ClientErrorCode, closedError, listenerError, originRefusedError, reportUnheard, TickgateClientError } from "./errors.ts";
import { Inbound, type InboundHost } from "./inbound.ts";
import type { Link, LinkCallbacks, LinkClosed, OutFrame, SubAck } from "./link.ts";
import type { ResolvedOptions } from "./options.ts";
import { Outbox } from "./outbox.ts";
import { PendingCalls, type Pending } from "./pending.ts";
import { SubscriptionRegistry } from "./registry.ts";
import { SseLink } from "./sse-link.ts";
import type { GapInfo, SubscriptionState } from "./subscription.ts";
import type { ClientEvents, ClientMode, ClientState } from "./types.ts";
import { WsLink } from "./ws-link.ts";
import { WsProbe } from "./ws-probe.ts";

/**
 * A stream is dead after this long without a byte, at the least: the
 * server's `: ping` comes every 5 s and does not say so on the wire.
 */
const SSE_MIN_IDLE_MS = 12_000;
/** Budget for a pattern's topic list in a recover frame, when the server's frame limit is unknown: the server's default. */
const DEFAULT_MAX_FRAME = 144 * 1024;

/** @internal */
export class Connection implements InboundHost {
  readonly calls = new PendingCalls();
  readonly subs: SubscriptionRegistry;
  readonly subAcks = new Map<number, SubAck>();
  readonly quiet = new Set<number>();
  readonly commands: CommandRouter<Link>;
  readonly deviceLinks = new WeakSet<Link>();
  readonly inbound: Inbound;
  readonly timeoutMs: number;
  rttMs: number | undefined;
  reconnects = 0;

  readonly #o: ResolvedOptions;
  readonly #events: Emitter<ClientEvents>;
  readonly #fetch: typeof fetch;
  #token: string | undefined;
  #state: ClientState = "disconnected";
  #mode: ClientMode;
  #link: Link | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Runs while a cut WebSocket is being reconnected; when it fires, the client falls back to SSE. */
  #fallbackTimer: ReturnType<typeof setTimeout> | undefined;
  /** On SSE after a cut: WebSocket attempts keep being made until one takes over. */
  #probing = false;
  readonly #probe: WsProbe;
  #closedByUser = true;
  #everConnected = false;
  #wsEverOpened = false;
  /** A connection was lost since the last `connected`: the next one is a reconnect. */
  #lost = false;
  #welcome: WelcomeFrame | undefined;
  /** The link the last welcome came on: the `welcome` event fires once it is ready. */
  #welcomeFrom: Link | undefined;
  #welcomed: Link | undefined;
  #nextId = 0;
  readonly #outbox: Outbox;
  /** The link whose `hello` is settled: acknowledged, or refused for a reason a new token would not change. */
  #helloDone: Link | undefined;
  /** The link on which a `TOKEN_EXPIRED` error was reported already (its 4403 close says nothing new). */
  #expiredOn: Link | undefined;
  #warnedNoWebSocket = false;

  constructor(o: ResolvedOptions, events: Emitter<ClientEvents>, token: string | undefined) {
    this.#o = o;
    this.#events = events;
    this.#token = token;
    this.timeoutMs = o.timeoutMs;
    // Every HTTP request (SSE, publish) carries the current token.
    const baseFetch = o.fetch;
    this.#fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      if (!this.#token) return baseFetch(input, init);
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${this.#token}`);
      return baseFetch(input, { ...init, headers });
    }) as typeof fetch;
    this.subs = new SubscriptionRegistry((where, e) => this.report(listenerError(where, e)));
    this.commands = new CommandRouter<Link>({
      // On the link the copy came on, or a later one the server knows as the device. Else the
      // server resends the command once the device is back, and the remembered result answers it.
      ack: (cid, result, via) => this.#deviceLink(via)?.send({ t: "command_ack", cid, data: result }),
      nack: (cid, code, message, via) => this.#deviceLink(via)?.send({ t: "command_nack", cid, code, message }),
      error: (e) => this.report(e),
    });
    this.inbound = new Inbound(this);
    this.#outbox = new Outbox(o.maxQueued);
    this.#probe = new WsProbe(o.probeBackoff, o.connectTimeoutMs, () => this.#openWs(), () => this.#probing && !this.#closedByUser && this.#mode === "sse");
    this.#mode = o.WebSocket ? "websocket" : "sse";
  }

  get state(): ClientState {
    return this.#state;
  }

  get mode(): ClientMode {
    return this.#mode;
  }

  get welcomeFrame(): WelcomeFrame | undefined {
    return this.#welcome;
  }

  // ---- what the public API calls ----

  connect(): void {
    if (this.#state !== "disconnected") return;
    this.#closedByUser = false;
    this.#o.backoff.reset();
    this.#setState("connecting");
    if (!this.#o.WebSocket) this.#warnNoWebSocket();
    this.#open();
    this.#probe.schedule();
  }

  close(): void {
    if (this.#state === "disconnected" && this.#closedByUser) return;
    this.#closedByUser = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#fallbackTimer);
    this.#fallbackTimer = undefined;
    this.#probe.stop();
    this.calls.failAll(closedError("the client was closed"));
    this.#outbox.clear();
    const link = this.#link;
    this.#link = undefined;
    link?.abandon("client closed", 1000);
    this.#linkLost();
    this.#setState("disconnected");
  }

  /** Sends a frame that expects an answer, now if a link is ready, else once one is (bounded queue). */
  call(frame: OutFrame, timeoutMs: number): Promise<unknown> {
    const id = this.nextId();
    frame.id = id;
    const { pending, promise } = this.calls.add(id, frame.t, timeoutMs, (p) => this.#outbox.drop(p));
    this.#dispatch(frame, pending, timeoutMs);
    return promise;
  }

  /** Sends a frame nobody waits for; failures go to the `error` event. */
  send(frame: OutFrame): void {
    this.#dispatch(frame);
  }

  /** A subscription was created: the current link takes it on (or the next handshake will). */
  subscribe(sub: SubscriptionState): void {
    this.#link?.hold(sub);
  }

  /** A subscription was removed from the registry; `held` says the server had it. */
  unsubscribe(sub: SubscriptionState, held: boolean): void {
    this.#link?.release(sub, held);
  }

  async setToken(token: string): Promise<void> {
    this.#token = token;
    const link = this.#link;
    // Over HTTP the token goes with every request; a session link is told at once.
    if (this.#state !== "connected" || !link?.ready || !link.session) return;
    await this.call({ t: "auth", token }, this.#o.timeoutMs);
    // What the connection was refused before it had a token (hello, subscriptions) goes again.
    if (this.#link === link && !link.ended) this.#handshake(link);
  }

  // ---- LinkHost / InboundHost ----

  nextId(): number {
    return ++this.#nextId;
  }

  maxFrameBytes(): number {
    return this.#welcome?.limits.maxFrameBytes ?? DEFAULT_MAX_FRAME;
  }

  report(err: TickgateClientError): void {
    if (this.#events.has("error")) this.#events.emit("error", err);
    else reportUnheard(err);
  }

  welcome(link: Link, w: WelcomeFrame): void {
    this.#welcome = w;
    this.#welcomeFrom = link;
    this.#handshake(link);
  }

  tokenExpired(link: Link): void {
    this.#expiredOn = link;
  }

  gap(info: GapInfo): void {
    this.#events.emit("gap", info);
  }

  // ---- opening links ----

  #open(): void {
    if (this.#mode === "sse") return this.#openSse();
    const link = this.#openWs();
    this.#link = link;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = setTimeout(() => {
      if (this.#link !== link || link.opened) return;
      // WebSockets never got through on this client: switch for good.
      if (this.#o.fallback === "sse" && !this.#wsEverOpened) this.#fallBack("connect timeout; falling back to SSE");
      else link.abandon(`WebSocket not open within ${this.#o.connectTimeoutMs} ms`);
    }, this.#o.connectTimeoutMs);
  }

  #openWs(): WsLink {
    const link: WsLink = new WsLink(this.#connectUrl(), this.#o.WebSocket!, this.#o.encoding, this.#o.heartbeatMs, this, this.#callbacks(() => link));
    return link;
  }

  #openSse(): void {
    const idleMs = this.#o.heartbeatMs > 0 ? Math.max(2 * this.#o.heartbeatMs, SSE_MIN_IDLE_MS) : 0;
    const to = { httpUrl: this.#o.httpUrl, clientType: this.#o.clientType, fetch: this.#fetch, idleMs };
    const link: SseLink = new SseLink(to, this, this.#callbacks(() => link));
    this.#link = link;
    // HTTP needs no handshake: what waited for a connection goes now.
    this.#outbox.flush(link);
  }

  /** The callbacks of a link; each acts only while its link is current (or the probe). */
  #callbacks(self: () => Link): LinkCallbacks {
    const current = () => this.#link === self();
    return {
      onOpen: () => {
        if (!current()) return;
        clearTimeout(this.#connectTimer);
        if (self().session) this.#wsEverOpened = true;
      },
      onFrame: (f) => {
        const link = self();
        if (this.#probe.owns(link)) {
          if (f.t === "welcome") this.#switchBack(f);
          return;
        }
        if (current()) this.inbound.frame(link, f);
      },
      onClose: (info) => {
        if (this.#probe.owns(self())) return this.#probe.ended();
        this.#onClosed(self(), info);
      },
      onPong: (rttMs) => {
        if (!current()) return;
        this.rttMs = rttMs;
        this.#events.emit("heartbeat", { rttMs });
      },
      onReady: () => {
        if (current()) this.#linkReady(self());
      },
      onStreamAck: (ack) => {
        if (current()) this.inbound.streamAck(ack);
      },
      onStreamRefusal: (topic, error) => {
        if (current()) this.inbound.streamRefusal(self(), topic, error);
      },
    };
  }

  /** The WebSocket URL for the next connect, with the current token. */
  #connectUrl(): string {
    if (!this.#token) return this.#o.url;
    const u = new URL(this.#o.url);
    u.searchParams.set("token", this.#token);
    return u.toString();
  }

  // ---- handshake ----

  /**
   * On a session link: the `hello`, when there is one, and its ack (so the
   * server knows the device before anything else); then `#linkReady`. Run on
   * every welcome, and again after `setToken` in case the connection had
   * been refused things for want of a token.
   */
  #handshake(link: Link): void {
    const hello = this.#helloFrame();
    if (!hello || !link.session || this.#helloDone === link) return this.#linkReady(link);
    const id = this.nextId();
    hello.id = id;
    const { pending, promise } = this.calls.add(id, "hello", this.#o.timeoutMs, () => {});
    link.call(hello, pending, this.#o.timeoutMs);
    promise.then(
      () => {
        if (this.#link !== link) return;
        this.#helloDone = link;
        if (this.#o.hello?.device !== undefined) this.deviceLinks.add(link);
        this.#linkReady(link);
      },
      (e: TickgateClientError) => {
        if (this.#link !== link) return;
        // A connection that cannot answer a hello is no use: try another.
        if (e.code === ClientErrorCode.TIMEOUT) return link.abandon(`no answer to hello within ${this.#o.timeoutMs} ms`);
        // Refused (a forbidden will, no token yet): the rest still works; say so and go on.
        // Only a refusal for want of a token is worth another try, after setToken.
        if (e.code !== ErrorCode.UNAUTHORIZED && e.code !== ErrorCode.TOKEN_EXPIRED) this.#helloDone = link;
        this.report(new TickgateClientError(e.code, `hello refused: ${e.message}`, { details: e.details, cause: e }));
        this.#linkReady(link);
      },
    );
  }

  /** The subscriptions not held yet and the queued frames go out; then `connected`. */
  #linkReady(link: Link): void {
    link.markReady();
    if (link.session) {
      // The WebSocket is back: no fallback for this cut.
      clearTimeout(this.#fallbackTimer);
      this.#fallbackTimer = undefined;
    }
    for (const sub of this.subs.values()) if (sub.status === "idle") link.hold(sub);
    this.#outbox.flush(link);
    if (this.#state !== "connected") this.#connected();
    if (this.#welcome && this.#welcomeFrom === link && this.#welcomed !== link) {
      this.#welcomed = link;
      this.#events.emit("welcome", this.#welcome);
    }
  }

  #helloFrame(): OutFrame | undefined {
    const h = this.#o.hello;
    if (!h) return undefined;
    // Without a clientType of its own the client keeps the type the server gave it.
    return { t: "hello", client: this.#o.clientType ?? this.#welcome?.client ?? "api", ...h };
  }

  #connected(): void {
    clearTimeout(this.#connectTimer);
    if (this.#lost) this.reconnects++;
    this.#lost = false;
    this.#everConnected = true;
    this.#o.backoff.reset();
    this.#setState("connected");
  }

  // ---- losing links, reconnecting ----

  #onClosed(link: Link, info: LinkClosed): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    clearTimeout(this.#connectTimer);
    this.#linkLost();
    // Refused for the page's origin: retrying, or SSE, would be refused the same way.
    if (info.code === CloseCode.ORIGIN_NOT_ALLOWED) return this.#stop(originRefusedError(info));
    if (info.error instanceof TickgateClientError && info.error.code === ErrorCode.ORIGIN_NOT_ALLOWED) return this.#stop(info.error);
    if (info.error) this.report(info.error instanceof TickgateClientError ? info.error : new TickgateClientError(ClientErrorCode.HTTP, info.error.message));
    const authError = authCloseError(info);
    if (authError && !(info.code === CloseCode.TOKEN_EXPIRED && this.#expiredOn === link)) this.report(authError);
    if (this.#closedByUser) return;
    if (this.#everConnected) this.#lost = true;
    // An open WebSocket was cut (not refused): if it does not come back in time, fall back.
    if (link.session && info.opened && !authError) this.#armFallback();
    this.#setState("reconnecting");
    const delayMs = this.#o.backoff.next();
    if (delayMs === undefined) {
      return this.#stop(new TickgateClientError(ClientErrorCode.RECONNECT_FAILED, `gave up after ${this.#o.backoff.attempts} reconnect attempts (last: ${info.reason || info.code})`));
    }
    this.#events.emit("retry", { attempt: this.#o.backoff.attempts, delayMs });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#closedByUser) this.#open();
    }, delayMs);
  }

  /** Stops for good (until `connect()`): calls and queued frames fail with `err`, then `disconnected`, then the `error` event. */
  #stop(err: TickgateClientError): void {
    this.#closedByUser = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    clearTimeout(this.#fallbackTimer);
    this.#fallbackTimer = undefined;
    this.#probe.stop();
    this.calls.failAll(err);
    this.#outbox.clear();
    this.#setState("disconnected");
    this.report(err);
  }

  /** The link is gone: its in-flight frames are lost, its subscriptions no longer held. */
  #linkLost(): void {
    this.subAcks.clear();
    this.quiet.clear();
    this.subs.setStatus("idle");
    this.calls.failAll(new TickgateClientError(ClientErrorCode.CONNECTION_LOST, "the connection was lost before the answer came; the frame may or may not have taken effect"), true);
  }

  #setState(s: ClientState): void {
    if (s === this.#state) return;
    const prev = this.#state;
    this.#state = s;
    this.#events.emit("state", s, prev);
  }

  // ---- fallback and the way back ----

  #armFallback(): void {
    const ms = this.#o.fallbackAfterMs;
    if (this.#o.fallback !== "sse" || !Number.isFinite(ms) || this.#fallbackTimer !== undefined) return;
    this.#fallbackTimer = setTimeout(() => {
      this.#fallbackTimer = undefined;
      if (this.#closedByUser || this.#mode !== "websocket" || this.#link?.ready) return;
      this.#probing = true;
      this.#fallBack(`WebSocket lost and not back within ${ms} ms; falling back to SSE`);
      this.#probe.schedule();
    }, ms);
  }

  /** Switches to SSE + HTTP: the attempt under way is dropped, subscriptions resume on the stream. */
  #fallBack(reason: string): void {
    const old = this.#link;
    this.#link = undefined;
    old?.abandon(reason);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    clearTimeout(this.#connectTimer);
    this.#linkLost();
    this.#mode = "sse";
    this.#events.emit("mode", "sse");
    if (this.#o.hello || this.commands.size > 0) {
      this.report(new TickgateClientError(ClientErrorCode.UNSUPPORTED, "on the SSE fallback there is no hello (device id, meta, will), no command and no log: they need a WebSocket"));
    }
    this.#openSse();
  }

  /** A probe got its welcome: the WebSocket takes over and resubscribes from where SSE left off. */
  #switchBack(w: WelcomeFrame): void {
    const probe = this.#probe.take();
    if (!probe) return;
    this.#probing = false;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const old = this.#link;
    this.#link = undefined;
    old?.abandon("WebSocket is back", 1000);
    this.#linkLost();
    this.#mode = "websocket";
    this.#link = probe;
    this.#wsEverOpened = true;
    this.#events.emit("mode", "websocket");
    this.welcome(probe, w);
  }

  // ---- frames out ----

  /** Hands a frame to the current link when it is ready, else queues it (bounded). */
  #dispatch(frame: OutFrame, pending?: Pending, timeoutMs = this.#o.timeoutMs): void {
    const link = this.#link;
    if (link?.ready) {
      if (pending) link.call(frame, pending, timeoutMs);
      else link.send(frame);
      return;
    }
    const full = this.#outbox.push(frame, pending, timeoutMs);
    if (full && (!pending || !this.calls.fail(pending, full))) this.report(full);
  }

  /** The link to answer a device command on: `via` itself, or a later one the server knows as the device. */
  #deviceLink(via: Link): Link | undefined {
    const link = this.#link;
    if (!link?.session || link.ended || (link !== via && !this.deviceLinks.has(link))) return undefined;
    return link;
  }

  #warnNoWebSocket(): void {
    if (this.#warnedNoWebSocket) return;
    this.#warnedNoWebSocket = true;
    const message = "no WebSocket in this runtime and none was given (option WebSocket, e.g. from the 'ws' package): using SSE + HTTP";
    console.warn(`tickgate client: ${message}`);
    this.#events.emit("warning", { code: "NO_WEBSOCKET", message });
  }
}
