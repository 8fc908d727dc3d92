/**
 * A transport for connections the native runtime does not carry: streams
 * whose bytes the HTTP layer writes (Server-Sent Events, see `http/sse.ts`).
 * Each stream is a {@link ServerSocket}; it joins channels under the same
 * names as native sockets, and the host treats it like any connection.
 * {@link CompositeTransport} puts it beside the native transport, so the
 * broker fans out through one `Transport.publish`. Fan-out here is a loop
 * in JavaScript, one write per stream: meant for the few clients that need
 * it. With no stream on any channel, a publish costs one size check.
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import { errorResponse } from "./replies.ts";
import type { SendResult, ServerSocket, Transport, TransportHost, TransportListenOptions, UpgradeInfo } from "./transport.ts";

/** How a stream writes its bytes: supplied by the HTTP layer (SSE framing, a ReadableStream). */
export interface StreamWriter {
  write(frame: Uint8Array | string): SendResult;
  buffered(): number;
  /** Ends the stream from the server's side. */
  close(code: number, reason: string): void;
  /**
   * Settles once the stream has ended and its reader has taken every byte
   * written (or went away): what shutdown waits for before it cuts
   * connections, so the last frames and the close are not lost.
   */
  readonly finished: Promise<void>;
}

export class StreamSocket implements ServerSocket {
  readonly #channels = new Set<string>();
  constructor(
    readonly transport: StreamTransport,
    readonly writer: StreamWriter,
    readonly remoteAddress: string,
  ) {}
  send(frame: Uint8Array | string): SendResult {
    return this.writer.write(frame);
  }
  subscribe(channel: string): void {
    this.#channels.add(channel);
    this.transport.join(this, channel);
  }
  unsubscribe(channel: string): void {
    this.#channels.delete(channel);
    this.transport.leave(this, channel);
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
    for (const c of this.#channels) this.transport.leave(this, c);
    this.#channels.clear();
  }
}

/** One open stream: its socket and the host's state for it. */
interface Open {
  socket: StreamSocket;
  state: unknown;
}

export class StreamTransport implements Transport {
  readonly name = "streams";
  readonly #channels = new Map<string, Set<StreamSocket>>();
  readonly #open = new Set<Open>();
  readonly #byState = new WeakMap<object, Open>();
  /** Streams not yet finished (see {@link StreamWriter.finished}), ended or not. */
  readonly #unfinished = new Set<Promise<void>>();
  #host: TransportHost<any> | undefined;
  #accepting = false;

  /** Streams have no listener of their own: their requests arrive through the native transport's HTTP. */
  async listen(host: TransportHost<any>, _opts?: TransportListenOptions): Promise<{ host: string; port: number }> {
    this.#host = host;
    this.#accepting = true;
    return { host: "", port: 0 };
  }

  /** Delivers a frame to the streams on `channel`. */
  publish(channel: string, frame: Uint8Array | string): void {
    if (this.#channels.size === 0) return;
    const set = this.#channels.get(channel);
    if (set === undefined) return;
    for (const s of set) s.send(frame);
  }

  async stop(closeActive: boolean): Promise<void> {
    this.#accepting = false;
    if (!closeActive) return;
    for (const o of [...this.#open]) o.socket.close(1001, "server shutting down");
  }

  /** Streams not yet finished: open, or ended with bytes their reader has not taken yet. */
  get unfinished(): number {
    return this.#unfinished.size;
  }

  /** Asks the host to admit a stream, like a WebSocket upgrade. */
  async admit(info: Omit<UpgradeInfo, "via">): Promise<{ state: unknown } | Response> {
    const host = this.#host;
    if (!host || !this.#accepting) return errorResponse(ErrorCode.SHUTTING_DOWN, "not accepting streams");
    const r = await host.upgrade({ ...info, via: "sse" });
    return r instanceof Response ? r : { state: r.state };
  }

  /** An admitted stream that will not open after all (refused by a later check): the host gives its slot back. */
  abandon(state: unknown): void {
    this.#host?.abandon?.(state);
  }

  /** Opens an admitted stream: from here on the host sees it as a connection. */
  open(state: unknown, writer: StreamWriter, remoteAddress: string): StreamSocket {
    const socket = new StreamSocket(this, writer, remoteAddress);
    const o: Open = { socket, state };
    const finished = writer.finished;
    this.#unfinished.add(finished);
    void finished.finally(() => this.#unfinished.delete(finished));
    this.#open.add(o);
    this.#byState.set(state as object, o);
    this.#host!.onOpen(socket, state);
    return socket;
  }

  /** The stream's reader caught up after backpressure. */
  drained(state: unknown): void {
    this.#host?.onDrain(state);
  }

  /** The stream ended (the reader went away, or the server closed it). Runs the host's close once. */
  ended(state: unknown, code: number, reason: string): void {
    const o = this.#byState.get(state as object);
    if (!o || !this.#open.delete(o)) return;
    o.socket.leaveAll();
    this.#host?.onClose(state, code, reason);
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
}

/**
 * The native transport and the stream transport as one: `publish` hands
 * the frame to both, `listen` and `stop` run both. The native transport
 * serves HTTP, so its address is the server's.
 */
export class CompositeTransport implements Transport {
  readonly name: string;
  constructor(
    readonly native: Transport,
    readonly streams: StreamTransport,
  ) {
    this.name = native.name;
  }
  async listen(host: TransportHost<any>, opts: TransportListenOptions): Promise<{ host: string; port: number }> {
    await this.streams.listen(host, opts);
    return this.native.listen(host, opts);
  }
  publish(channel: string, frame: Uint8Array | string): void {
    this.native.publish(channel, frame);
    this.streams.publish(channel, frame);
  }
  async stop(closeActive: boolean): Promise<void> {
    await this.streams.stop(closeActive);
    await this.native.stop(closeActive);
  }
}
