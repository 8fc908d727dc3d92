/**
 * The SSE + HTTP {@link Link}: where WebSockets do not get through, every
 * subscription rides one Server-Sent Events stream (reopened with a resume
 * cursor whenever the set changes) and every frame that has an HTTP
 * equivalent goes as its own request: publish, request, command, stats.
 * `hello`, `auth`, `log` and command acks have none: they are refused with
 * `UNSUPPORTED`. Cost: one HTTP request per publish; one stream per client.
 * @internal
 * @module
 */
import { ClientErrorCode, TickgateClientError } from "./errors.ts";
import { httpCommand, httpPublish, httpRequest, httpStats } from "./http.ts";
import type { Link, LinkCallbacks, LinkClosed, LinkHost, OutFrame } from "./link.ts";
import type { Pending } from "./pending.ts";
import { SseStream } from "./sse-stream.ts";
import type { ErrorFrame } from "../protocol/wire.ts";

/** Where the link's requests go. @internal */
export interface SseTarget {
  /** Base URL of the HTTP API, without a trailing slash. */
  httpUrl: string;
  /** The `?client=` type to label the stream's session with, if any. */
  clientType: string | undefined;
  fetch: typeof fetch;
  /** No byte on the stream within this long means it is dead (0: never). */
  idleMs: number;
}

/** @internal */
export class SseLink implements Link {
  readonly mode = "sse" as const;
  readonly session = false;
  readonly unfiltered = true;
  readonly #to: SseTarget;
  readonly #host: LinkHost;
  readonly #cb: LinkCallbacks;
  #stream: SseStream | undefined;
  #opened = false;
  #ended = false;
  #restartQueued = false;

  constructor(to: SseTarget, host: LinkHost, cb: LinkCallbacks) {
    this.#to = to;
    this.#host = host;
    this.#cb = cb;
    this.#restart();
  }

  get opened(): boolean {
    return this.#opened;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** HTTP needs no handshake: frames may go from the start. */
  get ready(): boolean {
    return !this.#ended;
  }

  markReady(): void {}

  send(frame: OutFrame): void {
    const sent = this.#overHttp(frame, this.#host.timeoutMs);
    if (sent) sent.catch((e) => this.#host.report(e));
    else this.#host.report(unsupported(frame.t));
  }

  call(frame: OutFrame, pending: Pending, timeoutMs: number): void {
    const sent = this.#overHttp(frame, timeoutMs);
    if (sent) this.#host.calls.transfer(pending, sent);
    else this.#host.calls.fail(pending, unsupported(frame.t));
  }

  hold(): void {
    this.#restartSoon();
  }

  release(): void {
    this.#restartSoon();
  }

  resync(): void {
    this.#restartSoon();
  }

  abandon(reason: string, code = 1006): void {
    this.#end({ code, reason, opened: this.#opened });
  }

  /** The set of subscriptions changed: reopen the stream once, after the current turn. */
  #restartSoon(): void {
    if (this.#restartQueued || this.#ended) return;
    this.#restartQueued = true;
    queueMicrotask(() => {
      this.#restartQueued = false;
      this.#restart();
    });
  }

  /** Opens the stream with every subscription, resuming where each left off; none: no stream. */
  #restart(): void {
    if (this.#ended) return;
    const old = this.#stream;
    this.#stream = undefined;
    old?.abandon("subscriptions changed");
    const subs = this.#host.subs;
    if (subs.size === 0) {
      // Nothing to stream: publishes are plain HTTP requests, so the link is as good as open.
      queueMicrotask(() => {
        if (this.#ended || this.#stream) return;
        this.#opened = true;
        this.#cb.onReady?.();
      });
      return;
    }
    subs.setStatus("pending");
    const stream: SseStream = new SseStream(this.#url(), this.#to.fetch, this.#to.idleMs, {
      onOpen: () => {
        if (this.#stream !== stream) return;
        this.#opened = true;
        this.#cb.onOpen();
      },
      onFrame: (f) => {
        if (this.#stream !== stream) return;
        if (f.t === "ack" && typeof f.topic === "string") return this.#cb.onStreamAck?.(f as typeof f & { topic: string });
        // A refused subscription's error carries its topic as the id.
        if (f.t === "error" && typeof f.id === "string") return this.#cb.onStreamRefusal?.(f.id, f as ErrorFrame);
        this.#cb.onFrame(f);
      },
      onClose: (info) => {
        if (this.#stream === stream) this.#end(info);
      },
    });
    this.#stream = stream;
  }

  /** The SSE URL: every subscription, and where to resume each topic from. */
  #url(): string {
    const q = new URLSearchParams();
    // SSE streams have no filters: one stream per topic, filtered by the client (see registry.deliver).
    for (const topic of this.#host.subs.topics()) q.append("topic", topic);
    if (this.#to.clientType) q.set("client", this.#to.clientType);
    const cursor = this.#host.subs.cursor();
    if (cursor) q.set("lastEventId", cursor);
    return `${this.#to.httpUrl}/sse?${q}`;
  }

  /** The HTTP equivalent of a frame, sent; undefined for frames that have none. */
  #overHttp(frame: OutFrame, timeoutMs: number): Promise<unknown> | undefined {
    const { fetch: f, httpUrl } = this.#to;
    switch (frame.t) {
      case "pub":
        return httpPublish(f, httpUrl, { topic: frame.topic, data: frame.data, key: frame.key, tags: frame.tags }, timeoutMs);
      case "req":
        return httpRequest(f, httpUrl, String(frame.method), frame.data, timeoutMs);
      case "command":
        return httpCommand(f, httpUrl, { device: frame.device, name: frame.name, data: frame.data, ttlMs: frame.ttlMs }, timeoutMs);
      case "stats":
        return httpStats(f, httpUrl, timeoutMs);
      default:
        return undefined;
    }
  }

  #end(info: LinkClosed): void {
    if (this.#ended) return;
    this.#ended = true;
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.abandon(info.reason);
    this.#cb.onClose(info);
  }
}

function unsupported(what: string): TickgateClientError {
  return new TickgateClientError(ClientErrorCode.UNSUPPORTED, `'${what}' needs the WebSocket transport; the client is on the SSE fallback`);
}
