/**
 * A `text/event-stream` parser (the WHATWG "event stream interpretation"),
 * fed with decoded text in chunks of any size: a line, a CRLF, even a
 * field name may be split between chunks.
 * @internal
 * @module
 */

/** One dispatched event. @internal */
export interface SseEvent {
  /** `event:` field, `"message"` when absent. */
  event: string;
  /** `data:` lines joined by `\n`. */
  data: string;
  /** `id:` field of this event's block, when it had one. */
  id: string | undefined;
}

/** @internal */
export class SseParser {
  #buf = "";
  #started = false;
  /** The previous chunk ended in CR: an LF opening the next one belongs to it. */
  #pendingCR = false;
  #event = "";
  #data: string[] = [];
  #id: string | undefined;

  constructor(readonly onEvent: (e: SseEvent) => void) {}

  feed(chunk: string): void {
    if (!this.#started && chunk.length > 0) {
      this.#started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.#pendingCR && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.#pendingCR = false;
    let text = this.#buf + chunk;
    let start = 0;
    for (;;) {
      let i = start;
      while (i < text.length) {
        const c = text.charCodeAt(i);
        if (c === 10 || c === 13) break;
        i++;
      }
      if (i >= text.length) break;
      this.#line(text.slice(start, i));
      if (text.charCodeAt(i) === 13) {
        if (i + 1 >= text.length) {
          this.#pendingCR = true;
          start = i + 1;
          break;
        }
        if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.#buf = text.slice(start);
    text = "";
  }

  #line(line: string): void {
    if (line.length === 0) return this.#dispatch();
    if (line.charCodeAt(0) === 58 /* ":" */) return; // comment, e.g. ": ping"
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case "event":
        this.#event = value;
        return;
      case "data":
        this.#data.push(value);
        return;
      case "id":
        if (!value.includes("\0")) this.#id = value;
        return;
      default:
        return; // "retry" and unknown fields: the client has its own backoff
    }
  }

  #dispatch(): void {
    const data = this.#data;
    const event = this.#event || "message";
    const id = this.#id;
    this.#data = [];
    this.#event = "";
    this.#id = undefined;
    if (data.length === 0) return;
    this.onEvent({ event, data: data.join("\n"), id });
  }
}
