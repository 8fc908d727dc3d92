/**
 * Fan-out in JavaScript for connections the native runtime does not carry:
 * Server-Sent Events streams (the fallback for clients that cannot open a
 * WebSocket). Stream sockets join channels here under the same names as the
 * native ones, so the broker, the policies and the slow-consumer guard treat
 * them like any other socket. This path does cost work per delivery; it is
 * meant for the few clients that need it, not for the main fan-out.
 * @module
 */
import type { SendResult, ServerSocket } from "./transport.ts";

export class StreamHub {
  readonly #channels = new Map<string, Set<StreamSocket>>();

  /** Delivers a frame to the streams on `channel`; a Map miss when there are none. */
  publish(channel: string, frame: Uint8Array | string): void {
    const set = this.#channels.get(channel);
    if (set === undefined) return;
    for (const s of set) s.send(frame);
  }

  join(s: StreamSocket, channel: string): void {
    let set = this.#channels.get(channel);
    if (!set) this.#channels.set(channel, (set = new Set()));
    set.add(s);
  }

  leave(s: StreamSocket, channel: string): void {
    const set = this.#channels.get(channel);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.#channels.delete(channel);
  }

  get size(): number {
    return this.#channels.size;
  }
}

/** How a stream socket writes: supplied by the HTTP layer (SSE formatting, a ReadableStream). */
export interface StreamWriter {
  write(frame: Uint8Array | string): SendResult;
  buffered(): number;
  close(code: number, reason: string): void;
}

export class StreamSocket implements ServerSocket {
  readonly #channels = new Set<string>();
  constructor(
    readonly hub: StreamHub,
    readonly writer: StreamWriter,
    readonly remoteAddress: string,
  ) {}
  send(frame: Uint8Array | string): SendResult {
    return this.writer.write(frame);
  }
  subscribe(channel: string): void {
    this.#channels.add(channel);
    this.hub.join(this, channel);
  }
  unsubscribe(channel: string): void {
    this.#channels.delete(channel);
    this.hub.leave(this, channel);
  }
  bufferedAmount(): number {
    return this.writer.buffered();
  }
  close(code: number, reason: string): void {
    this.leaveAll();
    this.writer.close(code, reason);
  }
  /** Leaves every channel; called when the stream ends. */
  leaveAll(): void {
    for (const c of this.#channels) this.hub.leave(this, c);
    this.#channels.clear();
  }
}
