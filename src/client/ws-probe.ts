/**
 * While the client runs on SSE after a WebSocket was cut, the probe keeps
 * trying the WebSocket: one attempt at a time, spaced by its own backoff
 * (the `reconnect` options without `maxAttempts`), each given
 * `connectTimeoutMs` to bring the server's welcome. The life cycle takes
 * the link of the attempt that succeeds. No cost while not on SSE.
 * @internal
 * @module
 */
import type { Backoff } from "./backoff.ts";
import type { Link } from "./link.ts";
import type { WsLink } from "./ws-link.ts";

/** @internal */
export class WsProbe {
  #link: WsLink | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly backoff: Backoff,
    readonly timeoutMs: number,
    /** Opens a WebSocket link whose callbacks ask `owns()` before anything else. */
    readonly open: () => WsLink,
    /** Whether probing is wanted now (on SSE after a cut, not closed). */
    readonly wanted: () => boolean,
  ) {}

  owns(link: Link): boolean {
    return link === this.#link;
  }

  /** Schedules the next attempt, unless one is under way or due. */
  schedule(): void {
    if (this.#link || this.#timer !== undefined || !this.wanted()) return;
    const delayMs = this.backoff.next() ?? this.backoff.options.maxDelayMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.wanted()) return;
      const link = this.open();
      this.#link = link;
      // An attempt that brings no welcome in time is abandoned, like any connect attempt.
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#link === link) link.abandon(`WebSocket probe not answered within ${this.timeoutMs} ms`);
      }, this.timeoutMs);
    }, delayMs);
  }

  /** The attempt's link closed: try again later. */
  ended(): void {
    this.#link = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.schedule();
  }

  /** The attempt got its welcome: its link is handed over and probing stops. */
  take(): WsLink | undefined {
    const link = this.#link;
    this.#link = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.backoff.reset();
    return link;
  }

  /** Stops probing; an attempt under way is abandoned. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const link = this.#link;
    this.#link = undefined;
    link?.abandon("client closed", 1000);
  }
}
