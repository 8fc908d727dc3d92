/**
 * Server-Sent Events: subscribing for clients that cannot open a WebSocket.
 * `GET /sse?topic=a&topic=b.*` streams the same JSON frames a WebSocket
 * client gets, as `event: <type>` with `data: <frame>`. Each publication's
 * `id` is a cursor over every topic seen on the stream, so a reconnecting
 * EventSource (which sends `Last-Event-ID` by itself) recovers from history
 * exactly like a WebSocket client's `recover`.
 *
 * {@link openStream} is the transport half: an SSE response whose writer is
 * a socket of the core's `StreamTransport`, admitted, opened, drained and
 * closed through the same host as a WebSocket. {@link handleSse} is the
 * route: it parses the topics and subscribes through the gate. Per
 * delivery: one text encode and one queue push per stream (this is the
 * fallback path); the runtime takes one queued chunk per read, so shutdown
 * knows when a stream's last byte has left.
 * @module
 */
import type { TickgateServerImpl as TickgateServer } from "../core/server.ts";
import type { Session } from "../core/session.ts";
import type { StreamTransport, StreamWriter } from "../core/streams.ts";
import type { SendResult } from "../core/transport.ts";
import { wireError } from "../core/replies.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { encodeFrame } from "../protocol/codec.ts";
import type { RecoverPosition } from "../protocol/frames.ts";
import { isPattern, matches, topicError } from "../protocol/topic.ts";
import { httpError } from "./errors.ts";

/** Comment lines keep proxies and idle timers from closing a quiet stream. */
export const SSE_PING_MS = 5000;
const HIGH_WATER = 256 * 1024;
const MAX_TOPICS = 100;

export interface Cursor {
  epoch: string;
  seqs: Map<string, number>;
}

/** `<epoch>,<topic> <seq>,...`: topics never contain ',' or ' '. */
export function formatCursor(c: Cursor): string {
  let s = c.epoch;
  for (const [t, n] of c.seqs) s += `,${t} ${n}`;
  return s;
}

export function parseCursor(text: string | null): Cursor | null {
  if (!text) return null;
  const [epoch, ...rest] = text.split(",");
  if (!epoch) return null;
  const seqs = new Map<string, number>();
  for (const part of rest) {
    const [t, n] = part.split(" ");
    const seq = Number(n);
    if (t && Number.isSafeInteger(seq) && seq >= 0 && topicError(t, false) === null) seqs.set(t, seq);
  }
  return { epoch, seqs };
}

function recoverFor(topic: string, cursor: Cursor | null): RecoverPosition | undefined {
  if (!cursor) return undefined;
  if (!isPattern(topic)) {
    const seq = cursor.seqs.get(topic);
    return seq === undefined ? undefined : { epoch: cursor.epoch, seq };
  }
  const topics: Record<string, number> = {};
  let any = false;
  for (const [t, n] of cursor.seqs) if (matches(topic, t)) ((topics[t] = n), (any = true));
  return any ? { epoch: cursor.epoch, topics } : undefined;
}

// Frames are built by our own encoder with a fixed key order, so the type,
// topic, seq and epoch of a publication can be read off its first bytes.
const HEAD = /^\{"t":"([a-z]+)"(?:,"topic":"([^"]*)","seq":(\d+),"epoch":"([^"]*)")?/;
const encoder = new TextEncoder();

/**
 * The stream's writer keeps its own queue and hands the runtime one chunk
 * per read (a pull source with no high-water mark of its own), so it knows
 * when the reader has taken the last byte: `finished`, which shutdown waits
 * for before it cuts connections.
 */
class SseWriter implements StreamWriter {
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  /**
   * The reader asked for a chunk while the queue was empty: settles the
   * pending pull (a pull that returns at once would be called again at once).
   */
  #wanted: (() => void) | undefined;
  /** No more writes; close the stream once the queue is taken. */
  #ending = false;
  #closed = false;
  backedUp = false;
  /** Called once when the server ends the stream (shutdown, slow consumer). */
  onEnd: (code: number, reason: string) => void = () => {};
  /** Called when the reader caught up after backpressure. */
  onDrain: () => void = () => {};
  readonly finished: Promise<void>;
  #finish!: () => void;
  constructor(readonly cursor: Cursor) {
    this.finished = new Promise((r) => (this.#finish = r));
  }
  attach(c: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = c;
  }
  #push(text: string): SendResult {
    if (this.#closed || this.#ending || !this.#controller) return "dropped";
    const bytes = encoder.encode(text);
    if (this.#wanted) {
      this.#controller.enqueue(bytes);
      this.#wake();
      return "sent";
    }
    this.#queue.push(bytes);
    this.#queued += bytes.byteLength;
    if (this.#queued > HIGH_WATER) {
      this.backedUp = true;
      return "buffered";
    }
    return "sent";
  }
  /** The reader wants the next chunk; the promise settles once it has one (or the stream ended). */
  pull(): Promise<void> | undefined {
    const c = this.#controller!;
    const next = this.#queue.shift();
    if (next) {
      this.#queued -= next.byteLength;
      c.enqueue(next);
      if (this.backedUp && this.#queued <= HIGH_WATER / 2) {
        this.backedUp = false;
        this.onDrain();
      }
      return undefined;
    }
    if (this.#ending) {
      this.#end();
      return undefined;
    }
    return new Promise<void>((r) => (this.#wanted = r));
  }
  #wake(): void {
    const w = this.#wanted;
    this.#wanted = undefined;
    w?.();
  }
  #end(): void {
    try {
      this.#controller?.close();
    } catch {
      // already closed by the reader going away
    }
    this.#finish();
  }
  write(frame: Uint8Array | string): SendResult {
    const text = typeof frame === "string" ? frame : new TextDecoder().decode(frame);
    const m = HEAD.exec(text);
    const type = m?.[1] ?? "message";
    if (type === "msg" && m![2] !== undefined) {
      this.cursor.epoch = m![4]!;
      this.cursor.seqs.set(m![2], Number(m![3]));
      return this.#push(`event: msg\nid: ${formatCursor(this.cursor)}\ndata: ${text}\n\n`);
    }
    return this.#push(`event: ${type}\ndata: ${text}\n\n`);
  }
  ping(): void {
    this.#push(": ping\n\n");
  }
  buffered(): number {
    return this.#queued;
  }
  close(code: number, reason: string): void {
    if (this.#closed || this.#ending) return;
    this.#push(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
    // The queue goes out first; the stream closes when the reader has taken it.
    this.#ending = true;
    if (this.#wanted) {
      this.#end();
      this.#wake();
    }
    this.onEnd(code, reason);
  }
  /** The reader went away: nothing more can be written, nothing is waiting. */
  markClosed(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#queued = 0;
    this.#wake();
    this.#finish();
  }
  get closed(): boolean {
    return this.#closed || this.#ending;
  }
}

/** What the route adds around a stream: checks before it opens, and work once it has. */
export interface StreamHooks {
  /** After admission, before the response: a Response refuses the stream (its slot is given back). */
  check?(state: unknown): Response | null;
  /** The stream is open: the host has welcomed it. */
  opened?(state: unknown): void;
  /** The cursor a reconnecting EventSource sent, to resume publication ids from. */
  cursor?: Cursor | null;
}

/**
 * Opens an SSE stream as a connection of `streams`: admitted by the host
 * (origin, limits, token), then a `text/event-stream` response whose
 * writes are the socket's sends.
 */
export async function openStream(streams: StreamTransport, req: Request, remoteAddress: string, hooks: StreamHooks = {}): Promise<Response> {
  const up = await streams.admit({ url: new URL(req.url), headers: req.headers, remoteAddress, protocols: ["tickgate.json"] });
  if (up instanceof Response) return up;
  const state = up.state;
  const refused = hooks.check?.(state);
  if (refused) {
    streams.abandon(state);
    return refused;
  }
  const c = hooks.cursor;
  const writer = new SseWriter(c ? { epoch: c.epoch, seqs: new Map(c.seqs) } : { epoch: "", seqs: new Map() });
  let ping: ReturnType<typeof setInterval> | undefined;
  writer.onEnd = (code, reason) => {
    clearInterval(ping);
    streams.ended(state, code, reason);
  };
  writer.onDrain = () => streams.drained(state);
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        writer.attach(controller);
        streams.open(state, writer, remoteAddress);
        hooks.opened?.(state);
        ping = setInterval(() => writer.ping(), SSE_PING_MS);
        (ping as { unref?: () => void }).unref?.();
      },
      pull() {
        return writer.pull();
      },
      cancel() {
        clearInterval(ping);
        writer.markClosed();
        streams.ended(state, 1001, "stream closed");
      },
    },
    // No queue in the stream itself: the writer's queue is the only one, so it sees every read.
    { highWaterMark: 0 },
  );
  return new Response(stream, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" },
  });
}

/** `GET /sse`: a stream subscribed to the given topics, each through the gate. */
export async function handleSse(req: Request, server: TickgateServer, remoteAddress: string): Promise<Response> {
  const url = new URL(req.url);
  const topics = url.searchParams.getAll("topic");
  if (topics.length === 0) return httpError(ErrorCode.INVALID_FRAME, "give at least one ?topic=");
  // Each topic is a subscription of the stream's connection: maxSubscriptions holds as on a socket.
  const most = Math.min(MAX_TOPICS, server.options.maxSubscriptions);
  if (new Set(topics).size > most) return httpError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `at most ${most} topics per stream`);
  for (const t of topics) {
    const bad = topicError(t, true);
    if (bad) return httpError(ErrorCode.BAD_TOPIC, `bad topic '${t.slice(0, 64)}': ${bad}`);
  }
  const cursor = parseCursor(req.headers.get("last-event-id") ?? url.searchParams.get("lastEventId"));
  // Positions are read before anything is written: the writer advances its
  // own cursor as replays go out, and a later subscription on the same stream
  // (a pattern over an exact topic) must still recover from where it was.
  const positions = topics.map((t) => recoverFor(t, cursor));
  const gate = server.gate;
  return openStream(server.streams, req, remoteAddress, {
    cursor,
    check(state) {
      const session = state as Session;
      // A stream cannot send an auth frame: its token must come with the request.
      if (session.awaitingAuth) return httpError(ErrorCode.UNAUTHORIZED, "a bearer token (header or ?token=) is required");
      // Every topic is allowed before the stream opens, so a refusal is an HTTP 403, not a half-open stream.
      for (const t of topics) {
        try {
          gate.checkSubscribe(session, t);
        } catch (e) {
          const w = wireError(e);
          return httpError(w.code, w.message);
        }
      }
      return null;
    },
    async opened(state) {
      const session = state as Session;
      // In order: a cluster bus may make a subscription wait while it catches up.
      for (const [i, topic] of topics.entries()) {
        try {
          await gate.subscribe(session, topic, { recover: positions[i] }, (ack) => session.send(encodeFrame({ t: "ack", id: topic, topic, ...ack }, true)));
        } catch (e) {
          const w = wireError(e);
          session.send(encodeFrame({ t: "error", id: topic, code: w.code, message: w.message }, true));
        }
      }
    },
  });
}
