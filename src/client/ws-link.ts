/**
 * One WebSocket connection attempt and its lifetime: open, decode frames,
 * app-level heartbeat, and exactly one `onClose` however it ends (server
 * close, network drop, dead heartbeat, or abandoned by the client).
 * @internal
 * @module
 */
import { SUBPROTOCOL, type Encoding } from "../protocol/wire.ts";
import { decodeServerMessage, encodeClientFrame, type IncomingFrame } from "./codec.ts";

/**
 * The members of a WebSocket the client uses: the browser/Bun/Node 22
 * global, or e.g. the `ws` package on Node 20.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or an injected one. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** How a link ended. @internal */
export interface LinkClosed {
  code: number;
  reason: string;
  /** The transport had opened (WebSocket open / HTTP 200) before it ended. */
  opened: boolean;
  /** An error worth reporting (e.g. an HTTP error body), beside the plain close. */
  error?: Error;
}

/** @internal */
export interface LinkCallbacks {
  onOpen(): void;
  onFrame(frame: IncomingFrame): void;
  onClose(info: LinkClosed): void;
  /** A heartbeat ping was answered, after `rttMs`. */
  onPong?(rttMs: number): void;
}

const HB_PREFIX = "hb:";
const noop = () => {};
/** A monotonic clock where there is one (browsers, Bun, Node), else the wall clock. */
const now: () => number = typeof performance !== "undefined" && typeof performance.now === "function" ? () => performance.now() : () => Date.now();

/** @internal */
export class WsLink {
  readonly mode = "websocket" as const;
  readonly #ws: WebSocketLike;
  readonly #encoding: Encoding;
  readonly #cb: LinkCallbacks;
  #opened = false;
  #ended = false;
  #hbTimer: ReturnType<typeof setInterval> | undefined;
  #pingSeq = 0;
  #pingOutstanding = false;
  #pingSentAt = 0;
  /** `performance.now()` when the last heartbeat ping went out, for the round trip. */
  #pingSentPerf = 0;
  #lastRx = 0;

  constructor(url: string, WS: WebSocketConstructor, encoding: Encoding, readonly heartbeatMs: number, cb: LinkCallbacks) {
    this.#encoding = encoding;
    this.#cb = cb;
    const ws = new WS(url, [SUBPROTOCOL[encoding]]);
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      if (this.#ended) return;
      this.#opened = true;
      this.#lastRx = Date.now();
      if (heartbeatMs > 0) this.#hbTimer = setInterval(() => this.#beat(), heartbeatMs);
      cb.onOpen();
    };
    ws.onmessage = (ev) => {
      if (this.#ended) return;
      this.#lastRx = Date.now();
      let f: IncomingFrame | null;
      try {
        f = decodeServerMessage(ev.data);
      } catch {
        f = null; // undecodable: not ours to answer; the heartbeat still counts it as life
      }
      if (f === null) return;
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
    ws.onclose = (ev) => this.#end(ev.code, ev.reason || "");
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

  send(frame: Record<string, unknown>): void {
    const data = encodeClientFrame(frame, this.#encoding);
    this.#ws.send(data);
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
      this.send({ t: "ping", id: `${HB_PREFIX}${++this.#pingSeq}` });
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
