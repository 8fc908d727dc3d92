/**
 * One Server-Sent Events stream over `fetch` (works in browsers, Bun and
 * Node 18+; `EventSource` is not used because it cannot be told where to
 * resume on a reopen and does its own reconnecting). Frames arrive as the
 * JSON `data` of `welcome`, `ack`, `msg` and `gap` events; `: ping`
 * comments only prove the stream is alive. The HTTP half of the fallback and
 * the stream's restarts live in `sse-link.ts`.
 * @internal
 * @module
 */
import type { IncomingFrame } from "./codec.ts";
import { httpError } from "./http.ts";
import { SseParser, type SseEvent } from "./sse-parser.ts";
import type { LinkCallbacks } from "./link.ts";

const EVENTS = new Set(["welcome", "ack", "msg", "gap", "error"]);

/** @internal */
export class SseStream {
  readonly #abort = new AbortController();
  readonly #cb: Pick<LinkCallbacks, "onOpen" | "onFrame" | "onClose">;
  #opened = false;
  #ended = false;
  #watchdog: ReturnType<typeof setTimeout> | undefined;

  constructor(
    url: string,
    fetchImpl: typeof fetch,
    /** No byte within this long means a dead stream (0: never). */
    readonly idleMs: number,
    cb: Pick<LinkCallbacks, "onOpen" | "onFrame" | "onClose">,
  ) {
    this.#cb = cb;
    void this.#run(url, fetchImpl);
  }

  get opened(): boolean {
    return this.#opened;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Ends the stream now; `onClose` runs before this returns. */
  abandon(reason: string, code = 1006): void {
    if (this.#ended) return;
    this.#end(code, reason);
  }

  async #run(url: string, fetchImpl: typeof fetch): Promise<void> {
    this.#arm();
    let res: Response;
    try {
      res = await fetchImpl(url, { headers: { accept: "text/event-stream" }, cache: "no-store", signal: this.#abort.signal });
    } catch (e) {
      return this.#end(1006, `SSE request failed: ${(e as Error)?.message ?? e}`);
    }
    if (this.#ended) return;
    if (!res.ok || !res.body) {
      const error = await httpError(res, "SSE stream");
      return this.#end(1006, error.message, error);
    }
    this.#opened = true;
    this.#cb.onOpen();
    const parser = new SseParser((ev) => this.#event(ev));
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.#ended) break;
        if (done) return this.#end(1006, "SSE stream ended");
        this.#arm();
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch (e) {
      return this.#end(1006, `SSE stream failed: ${(e as Error)?.message ?? e}`);
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  #event(ev: SseEvent): void {
    if (this.#ended) return;
    let f: unknown;
    try {
      f = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (f === null || typeof f !== "object") return;
    if (ev.event === "close") {
      // The server ends the stream (shutdown, slow consumer) and says why.
      const c = f as { code?: unknown; reason?: unknown };
      return this.#end(typeof c.code === "number" ? c.code : 1006, typeof c.reason === "string" ? c.reason : "stream closed by the server");
    }
    if (!EVENTS.has(ev.event)) return;
    const frame = f as IncomingFrame;
    if (typeof frame.t !== "string") (frame as { t: string }).t = ev.event;
    this.#cb.onFrame(frame);
  }

  #arm(): void {
    if (this.idleMs <= 0) return;
    clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => this.abandon(`SSE stream silent for ${this.idleMs} ms`), this.idleMs);
  }

  #end(code: number, reason: string, error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#watchdog);
    this.#abort.abort();
    this.#cb.onClose(error ? { code, reason, opened: this.#opened, error } : { code, reason, opened: this.#opened });
  }
}
