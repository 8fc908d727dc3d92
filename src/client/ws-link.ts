/**
 * The WebSocket {@link Link}: one connection attempt and its lifetime (open,
 * decode frames, app-level heartbeat, exactly one `onClose` however it ends:
 * server close, network drop, dead heartbeat, or abandoned by the client),
 * and every frame the client sends over it. Cost per frame: one encode and
 * one `send`.
 * @internal
 * @module
 */
import { BATCH_SUBPROTOCOL, SUBPROTOCOL, type Encoding, type RecoverPosition } from "../protocol/wire.ts";
import type { FilterSpec } from "../protocol/filter-core.ts";
import { decodeServerMessage, encodeClientFrame, type IncomingMessage } from "./codec.ts";
import { ClientErrorCode, TickgateClientError } from "./errors.ts";
import { describe, type Link, type LinkCallbacks, type LinkHost, type OutFrame } from "./link.ts";
import type { Pending } from "./pending.ts";
import type { SubscriptionState } from "./subscription.ts";

/**
 * The members of a WebSocket the client uses, by shape: the browser/Bun/
 * Node 22 global, or the `ws` package's `WebSocket` on Node 20. The
 * handlers take `any` events so that implementations with their own event
 * classes (`ws`'s `WebSocket.MessageEvent`, the DOM's `MessageEvent`) fit;
 * the client reads only `data` of a message and `code`/`reason` of a close.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: any): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
}

/**
 * A WebSocket constructor: `globalThis.WebSocket`, or an injected one such
 * as the `ws` package's default export (docs/client.md, "Runtimes").
 * @example
 * const client = new TickgateClient(url, { WebSocket: globalThis.WebSocket });
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

const HB_PREFIX = "hb:";
const noop = () => {};
/** A monotonic clock where there is one (browsers, Bun, Node), else the wall clock. */
const now: () => number = typeof performance !== "undefined" && typeof performance.now === "function" ? () => performance.now() : () => Date.now();

/** @internal */
export class WsLink implements Link {
  readonly mode = "websocket" as const;
  readonly session = true;
  readonly unfiltered = false;
  readonly #ws: WebSocketLike;
  readonly #encoding: Encoding;
  readonly #cb: LinkCallbacks;
  readonly #host: LinkHost;
  #opened = false;
  #ready = false;
  #ended = false;
  #hbTimer: ReturnType<typeof setInterval> | undefined;
  #pingSeq = 0;
  #pingOutstanding = false;
  #pingSentAt = 0;
  /** `performance.now()` when the last heartbeat ping went out, for the round trip. */
  #pingSentPerf = 0;
  #lastRx = 0;

  constructor(url: string, WS: WebSocketConstructor, encoding: Encoding, readonly heartbeatMs: number, host: LinkHost, cb: LinkCallbacks) {
    this.#encoding = encoding;
    this.#cb = cb;
    this.#host = host;
    // Batch frames first: a server without them answers the plain name.
    const ws = new WS(url, [BATCH_SUBPROTOCOL[encoding], SUBPROTOCOL[encoding]]);
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      if (this.#ended) return;
      this.#opened = true;
      this.#lastRx = Date.now();
      if (heartbeatMs > 0) this.#hbTimer = setInterval(() => this.#beat(), heartbeatMs);
      cb.onOpen();
    };
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.#ended) return;
      this.#lastRx = Date.now();
      let f: IncomingMessage | null;
      try {
        f = decodeServerMessage(ev.data);
      } catch {
        f = null; // undecodable: not ours to answer; the heartbeat still counts it as life
      }
      if (f === null) return;
      if (f.t === "batch") {
        // One message, many publications: each reaches the app as if it came alone, in order.
        const msgs: unknown = f.msgs;
        if (!Array.isArray(msgs)) return;
        for (const m of msgs) {
          if (this.#ended) return;
          if (m !== null && typeof m === "object" && (m as { t?: unknown }).t === "msg") cb.onFrame(m);
        }
        return;
      }
      if (f.t === "pong" && typeof f.id === "string" && f.id.startsWith(HB_PREFIX)) {
        // Only the answer to the latest ping times a round trip; an older one arrives late.
        if (f.id === `${HB_PREFIX}${this.#pingSeq}` && this.#pingOutstanding) {
          this.#pingOutstanding = false;
          cb.onPong?.(now() - this.#pingSentPerf);
        }
        return;
      }
      cb.onFrame(f);
    };
    ws.onclose = (ev: { code: number; reason?: string }) => this.#end(ev.code, ev.reason || "");
    ws.onerror = () => {
      // Always followed by close, which carries what there is to know.
    };
  }

  get opened(): boolean {
    return this.#opened;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get ready(): boolean {
    return this.#ready && !this.#ended;
  }

  markReady(): void {
    this.#ready = true;
  }

  send(frame: OutFrame): void {
    this.#write(frame);
  }

  call(frame: OutFrame, pending: Pending): void {
    this.#write(frame, pending);
  }

  hold(sub: SubscriptionState): void {
    // Before the handshake the life cycle sends every idle subscription itself.
    if (!this.ready) return;
    const id = this.#host.nextId();
    const frame: { t: "sub"; id: number; topic: string; filter?: FilterSpec; recover?: RecoverPosition } = { t: "sub", id, topic: sub.topic };
    if (sub.filter) frame.filter = sub.filter;
    // Half the frame limit for the topic list, the rest for everything else in the frame.
    const r = sub.recoverPosition((this.#host.maxFrameBytes() >> 1) - sub.key.length - 64);
    if (r) frame.recover = r.recover;
    sub.status = "pending";
    this.#host.subAcks.set(id, { sub, truncated: r?.truncated ?? false });
    try {
      this.#encodeAndSend(frame);
    } catch (e) {
      this.#host.subAcks.delete(id);
      this.#host.report(new TickgateClientError(ClientErrorCode.CONNECTION_LOST, `subscribe ${describe(sub)} not sent: ${(e as Error).message}`));
    }
  }

  release(sub: SubscriptionState, held: boolean): void {
    if (!held || !this.ready) return;
    const id = this.#host.nextId();
    this.#host.quiet.add(id);
    try {
      // The server names a filtered subscription by topic and filter: both go.
      this.#encodeAndSend(sub.filter ? { t: "unsub", id, topic: sub.topic, filter: sub.filter } : { t: "unsub", id, topic: sub.topic });
    } catch {
      // the connection is going away; so is the subscription with it
    }
  }

  resync(): void {
    // Each subscription is its own frame here: nothing to catch up on.
  }

  /** Writes a frame; a failure (unencodable data, a closing socket) fails `pending` or is reported. */
  #write(frame: OutFrame, pending?: Pending): void {
    try {
      this.#encodeAndSend(frame);
      if (pending) pending.sent = true;
    } catch (e) {
      const err = e instanceof TickgateClientError ? e : new TickgateClientError(ClientErrorCode.CONNECTION_LOST, `'${frame.t}' not sent: ${(e as Error)?.message ?? e}`, { cause: e });
      if (!pending || !this.#host.calls.fail(pending, err)) this.#host.report(err);
    }
  }

  #encodeAndSend(frame: Record<string, unknown>): void {
    this.#ws.send(encodeClientFrame(frame, this.#encoding));
  }

  /**
   * Ends the link now, without waiting for a close handshake a dead peer
   * would never finish; `onClose` runs before this returns.
   */
  abandon(reason: string, code = 1006): void {
    if (this.#ended) return;
    try {
      // Only the app's own close() is a normal close; giving up on a dead
      // link is not, so the server publishes this connection's will.
      this.#ws.close(code === 1000 ? 1000 : 4100, reason.slice(0, 120));
    } catch {
      // close() on a socket still connecting throws in some implementations
    }
    this.#end(code, reason);
  }

  #beat(): void {
    // Dead: the last ping got no pong, and nothing else came either (a
    // busy stream can hold the pong behind data, which is proof of life too).
    if (this.#pingOutstanding && this.#lastRx < this.#pingSentAt) {
      this.abandon(`no answer to heartbeat within ${this.heartbeatMs} ms`);
      return;
    }
    this.#pingOutstanding = true;
    this.#pingSentAt = Date.now();
    this.#pingSentPerf = now();
    try {
      this.#encodeAndSend({ t: "ping", id: `${HB_PREFIX}${++this.#pingSeq}` });
    } catch {
      // the socket is closing; onclose follows
    }
  }

  #end(code: number, reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#hbTimer);
    const ws = this.#ws;
    ws.onopen = ws.onmessage = ws.onclose = null;
    // Not null: an EventEmitter-based WebSocket (the `ws` package) throws on an unheard 'error'.
    ws.onerror = noop;
    this.#cb.onClose({ code, reason, opened: this.#opened });
  }
}
