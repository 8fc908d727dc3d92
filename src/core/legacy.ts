/**
 * Legacy protocols: an older frame protocol accepted on its own path and
 * translated to tickgate's frames, so clients and firmware already in the
 * field keep working while they move to `/ws`. A {@link LegacyProtocol}
 * says how one message of the old protocol becomes tickgate client frames
 * (or a direct reply), and how each tickgate server frame becomes old
 * frames. Everything else is the native path's: the same admission (origin,
 * limits, token), the same host, dispatcher and gate (grants, rate limits,
 * declared topics, audit lines), the same error budget.
 *
 * Cost: a legacy connection's subscriptions fan out in JavaScript, like
 * SSE streams ({@link StreamSocket}): one JSON parse and one `encode` per
 * delivery, on legacy connections only. The native path is untouched: a
 * native socket's frames never pass through here, and a legacy socket never
 * joins a native channel (it would get untranslated frames).
 * @module
 */
import { CloseCode, spendsBudget } from "../protocol/codes.ts";
import type { ClientType } from "../protocol/frames.ts";
import type { PublicationFrame, ServerFrame } from "../protocol/wire.ts";
import type { Logger } from "./log.ts";
import { RefusedUpgrade } from "./host.ts";
import type { Session } from "./session.ts";
import { StreamSocket, type StreamTransport } from "./streams.ts";
import type { ServerSocket, TransportHost, UpgradeInfo } from "./transport.ts";

/** A frame on the legacy wire: text or binary, as the old protocol has it. */
export type LegacyFrame = string | Uint8Array;

/** What tickgate sends that a legacy protocol translates: control frames and publications. */
export type TickgateFrame = ServerFrame | PublicationFrame;

/** A tickgate client frame as an object; the host validates it like any frame (unknown `t` → UNKNOWN_TYPE). */
export type ClientFrameInput = { t: string } & Record<string, unknown>;

/** One legacy connection, as its protocol sees it. */
export interface LegacyConnection {
  /** The tickgate session id (also the `session` of `welcome`). */
  readonly session: string;
  readonly remoteAddress: string;
  /** The upgrade request's URL and headers (read-only; e.g. a device kind in a header). */
  readonly url: URL;
  readonly headers: Headers;
  /** The protocol's own per-connection state (pending ids, outstanding commands). */
  readonly state: Record<string, unknown>;
}

/** What one legacy message becomes. */
export interface LegacyDecoded {
  /** Tickgate client frames, run in order as if they came on `/ws` (JSON encoding). */
  frames?: ClientFrameInput[];
  /** Frames sent straight back to the legacy peer (e.g. a reply that needs nothing of the server). */
  replies?: LegacyFrame[];
  /**
   * The peer's own mistake (bad JSON, an unknown type), answered with
   * `reply`; spends the error budget as the same tickgate `code` would.
   */
  fault?: { code: string; reply: LegacyFrame };
}

/**
 * An older frame protocol, served on its own path.
 * @example
 * server.legacy({
 *   name: "v1", path: "/v1",
 *   decode: (raw) => ({ frames: [{ t: "ping", id: 1 }] }),
 *   encode: (f) => (f.t === "pong" ? JSON.stringify({ type: "pong" }) : null),
 * });
 */
export interface LegacyProtocol {
  /** For log lines (`legacy` field). */
  readonly name: string;
  /** The path its clients upgrade on; not the server's `path`, not another protocol's. */
  readonly path: string;
  /** The client type its connections get, unless their token says otherwise (default: as on `/ws`). */
  readonly client?: ClientType;
  /** Translates one message from the peer. May throw: the peer gets nothing, the error is logged. */
  decode(raw: string | Uint8Array, conn: LegacyConnection): LegacyDecoded;
  /** Translates one tickgate frame for the peer; `null` sends nothing. */
  encode(frame: TickgateFrame, conn: LegacyConnection): LegacyFrame | LegacyFrame[] | null;
  /**
   * An application-level heartbeat, for protocols whose peers expect one:
   * `frame` is sent every `intervalMs`, and a connection from which nothing
   * has arrived for `idleMs`, heartbeats sent meanwhile unanswered, is
   * closed with 4009 (PEER_TIMEOUT).
   */
  readonly heartbeat?: { intervalMs: number; idleMs: number; frame: LegacyFrame };
}

/** Frames kept per connection while its first `auth` frame is verified. */
const MAX_HELD = 64;

/** The per-connection state the host sees for a legacy connection. */
export class LegacyConn implements LegacyConnection {
  readonly state: Record<string, unknown> = {};
  native: ServerSocket | null = null;
  lastSeen = Date.now();
  /** When the last heartbeat went out; a peer is judged silent only after one it could have answered. */
  pingedAt = 0;
  heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Settles when the native socket has closed: what shutdown waits for on this stream. */
  readonly closed: Promise<void>;
  markClosed!: () => void;
  /** The id of an `auth` frame being verified; frames after it wait (old firmware does not wait for an answer). */
  authId: string | undefined;
  readonly held: string[] = [];
  constructor(
    readonly protocol: LegacyProtocol,
    readonly inner: Session,
    readonly url: URL,
    readonly headers: Headers,
  ) {
    this.closed = new Promise<void>((resolve) => (this.markClosed = resolve));
  }
  get session(): string {
    return this.inner.id;
  }
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
}

/** Checks a protocol before it is registered; the message names what is wrong. */
export function legacyError(p: LegacyProtocol, taken: ReadonlySet<string>, wsPath: string): string | null {
  if (typeof p.path !== "string" || !p.path.startsWith("/")) return `legacy protocol '${p.name}': path must start with '/'`;
  if (p.path === wsPath) return `legacy protocol '${p.name}': path '${p.path}' is the server's WebSocket path`;
  if (taken.has(p.path)) return `legacy protocol '${p.name}': path '${p.path}' is taken by another legacy protocol`;
  if (p.heartbeat && !(p.heartbeat.intervalMs > 0 && p.heartbeat.idleMs > 0)) return `legacy protocol '${p.name}': heartbeat intervalMs and idleMs must be positive`;
  return null;
}

/**
 * The host the native transport drives: the connection host for `/ws`,
 * plus the legacy paths. Native connections are handed straight through;
 * only a connection whose state is a {@link LegacyConn} is translated.
 */
export class LegacyHost implements TransportHost<unknown> {
  readonly #protocols = new Map<string, LegacyProtocol>();
  readonly #paths: string[] = [];

  constructor(
    readonly host: TransportHost<Session | RefusedUpgrade>,
    readonly streams: StreamTransport,
    readonly log: Logger,
    /** Spends the session's error budget for `code` (closing it when spent), as an error frame would. */
    readonly spend: (s: Session, code: string) => void,
  ) {}

  get wsPath(): string {
    return this.host.wsPath;
  }

  /** The legacy paths, on which the transport also accepts upgrades. */
  get upgradePaths(): readonly string[] {
    return this.#paths;
  }

  register(p: LegacyProtocol): void {
    const err = legacyError(p, new Set(this.#protocols.keys()), this.host.wsPath);
    if (err) throw new Error(err);
    this.#protocols.set(p.path, p);
    this.#paths.push(p.path);
  }

  upgrade(info: UpgradeInfo): { state: unknown; protocol?: string } | Response | Promise<{ state: unknown; protocol?: string } | Response> {
    const p = this.#protocols.size === 0 ? undefined : this.#protocols.get(info.url.pathname);
    // The native path settles as the host does (at once, without a token to verify).
    if (!p) return this.host.upgrade(info);
    return this.#upgradeLegacy(p, info);
  }

  async #upgradeLegacy(p: LegacyProtocol, info: UpgradeInfo): Promise<{ state: unknown; protocol?: string } | Response> {
    // The same admission as /ws, with JSON frames and the protocol's client
    // type; a legacy peer's own subprotocols and tickgate parameters do not apply.
    const url = new URL(info.url);
    url.searchParams.set("encoding", "json");
    url.searchParams.delete("client");
    const headers = new Headers(info.headers);
    headers.delete("x-tickgate-client");
    if (p.client) url.searchParams.set("client", p.client);
    const r = await this.host.upgrade({ url, headers, remoteAddress: info.remoteAddress, protocols: [], via: "ws" });
    if (r instanceof Response) return r;
    // The host answers a refusal with a close only on its own path, never here.
    if (r.state instanceof RefusedUpgrade) throw new Error("a legacy upgrade was refused with a close");
    return { state: new LegacyConn(p, r.state, info.url, info.headers) };
  }

  onOpen(socket: ServerSocket, state: unknown): void {
    if (!(state instanceof LegacyConn)) return this.host.onOpen(socket, state as Session);
    const c = state;
    c.native = socket;
    const p = c.protocol;
    // Translated on the way out; channels joined in JavaScript (see the module comment).
    const translated = new StreamSocket(
      this.streams,
      {
        write: (frame) => {
          const out = this.#encode(c, frame);
          if (out === null) return "sent";
          let r: "sent" | "buffered" | "dropped" = "sent";
          for (const f of out) r = socket.send(f);
          return r;
        },
        buffered: () => socket.bufferedAmount(),
        close: (code, reason) => socket.close(code, reason),
        finished: c.closed,
      },
      socket.remoteAddress,
    );
    this.log.info({ event: "legacy_connect", legacy: p.name, session: c.session, ip: c.remoteAddress }, "legacy connection opened");
    if (p.heartbeat) {
      const hb = p.heartbeat;
      c.heartbeat = setInterval(() => {
        // A late timer (a stalled loop) must not close a peer that was never
        // asked: silence counts only after a heartbeat it could answer.
        if (Date.now() - c.lastSeen >= hb.idleMs && c.pingedAt > c.lastSeen) {
          this.log.info({ event: "legacy_idle", legacy: p.name, session: c.session, ip: c.remoteAddress }, "legacy connection idle; closing");
          socket.close(CloseCode.PEER_TIMEOUT, "idle");
          return;
        }
        socket.send(hb.frame);
        c.pingedAt = Date.now();
      }, hb.intervalMs);
      (c.heartbeat as { unref?: () => void }).unref?.();
    }
    this.host.onOpen(translated, c.inner);
  }

  #encode(c: LegacyConn, frame: Uint8Array | string): LegacyFrame[] | null {
    try {
      const f = JSON.parse(typeof frame === "string" ? frame : new TextDecoder().decode(frame)) as TickgateFrame;
      if (c.authId !== undefined && (f.t === "ack" || f.t === "error") && String(f.id) === c.authId) {
        c.authId = undefined;
        // After this answer has gone out: the held frames run as if they came now.
        queueMicrotask(() => this.#release(c));
      }
      const out = c.protocol.encode(f, c);
      return out === null ? null : Array.isArray(out) ? out : [out];
    } catch (e) {
      this.log.error({ event: "legacy_encode_failed", legacy: c.protocol.name, session: c.session, err: String(e) }, "legacy protocol could not encode a frame");
      return null;
    }
  }

  abandon(state: unknown): void {
    this.host.abandon?.(state instanceof LegacyConn ? state.inner : (state as Session));
  }

  onMessage(state: unknown, data: Uint8Array | string): void {
    if (!(state instanceof LegacyConn)) return this.host.onMessage(state as Session, data);
    const c = state;
    c.lastSeen = Date.now();
    let d: LegacyDecoded;
    try {
      d = c.protocol.decode(data, c);
    } catch (e) {
      this.log.error({ event: "legacy_decode_failed", legacy: c.protocol.name, session: c.session, err: String(e) }, "legacy protocol could not decode a message");
      return;
    }
    const socket = c.native;
    if (!socket) return;
    for (const r of d.replies ?? []) socket.send(r);
    if (d.fault) {
      socket.send(d.fault.reply);
      if (spendsBudget(d.fault.code)) this.spend(c.inner, d.fault.code);
    }
    for (const f of d.frames ?? []) this.#run(c, JSON.stringify(f), f);
  }

  /** Hands one translated frame to the host, or holds it while an `auth` frame is being verified. */
  #run(c: LegacyConn, json: string, f: ClientFrameInput): void {
    if (c.inner.closed) return;
    if (c.authId !== undefined) {
      // Bounded: a peer that floods while its token is checked loses the excess, as an unauthenticated one would.
      if (c.held.length < MAX_HELD) c.held.push(json);
      return;
    }
    if (f.t === "auth" && c.inner.awaitingAuth && f.id !== undefined) c.authId = String(f.id);
    this.host.onMessage(c.inner, json);
  }

  #release(c: LegacyConn): void {
    const held = c.held.splice(0);
    for (const json of held) this.#run(c, json, JSON.parse(json) as ClientFrameInput);
  }

  onPong(state: unknown): void {
    // A pong is a sign of life on either path (liveness judges what the peer sends).
    const inner = state instanceof LegacyConn ? state.inner : (state as Session);
    this.host.onPong?.(inner);
    if (state instanceof LegacyConn) state.lastSeen = Date.now();
  }

  onDrain(state: unknown): void {
    this.host.onDrain(state instanceof LegacyConn ? state.inner : (state as Session));
  }

  onClose(state: unknown, code: number, reason: string): void {
    if (!(state instanceof LegacyConn)) return this.host.onClose(state as Session, code, reason);
    clearInterval(state.heartbeat);
    state.markClosed();
    (state.inner.socket as StreamSocket | null)?.leaveAll();
    this.host.onClose(state.inner, code, reason);
  }

  fetch(req: Request, remoteAddress: string): Response | Promise<Response> {
    return this.host.fetch(req, remoteAddress);
  }
}
