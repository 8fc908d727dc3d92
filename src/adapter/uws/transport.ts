/**
 * Transport on uWebSockets.js (Node): uWS's native topics do the fan-out,
 * as in Bun, which embeds the same engine. The only file that drives uWS's
 * WebSocket API. Per delivery nothing runs here (app.publish is one native
 * call per channel); per inbound message one copy of the bytes, because uWS
 * neuters the message buffer when the callback returns.
 * @module
 */
import type { SendResult, ServerSocket, Transport, TransportHost, TransportListenOptions } from "../../core/transport.ts";
import { addressText, bodyStream, readHead, sendResponse, type ResponseState } from "./http.ts";
import { DEFAULT_UWS_MODULES, loadUws } from "./load.ts";
import type { UwsApp, UwsHttpRequest, UwsHttpResponse, UwsListenToken, UwsModule, UwsSocketContext, UwsWebSocket, UwsWebSocketBehavior } from "./uws-types.ts";

const utf8 = new TextDecoder();

interface SocketData {
  state: unknown;
  socket: UwsSocket | null;
}

/** Maps uWS's send status (1 / 0 / 2) to the core's SendResult; a closed socket is never touched (uWS throws). */
class UwsSocket implements ServerSocket {
  closed = false;
  readonly remoteAddress: string;
  constructor(readonly ws: UwsWebSocket<SocketData>) {
    this.remoteAddress = addressText(ws.getRemoteAddressAsText());
  }
  send(frame: Uint8Array | string): SendResult {
    if (this.closed) return "dropped";
    const r = this.ws.send(frame, typeof frame !== "string");
    return r === 1 ? "sent" : r === 0 ? "buffered" : "dropped";
  }
  subscribe(channel: string): void {
    if (!this.closed) this.ws.subscribe(channel);
  }
  unsubscribe(channel: string): void {
    if (!this.closed) this.ws.unsubscribe(channel);
  }
  bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.end(code, reason);
  }
  ping(): void {
    if (!this.closed) this.ws.ping();
  }
}

export interface UwsTransportOptions {
  /** Module name(s) to load uWebSockets.js from, tried in order (default: DEFAULT_UWS_MODULES). */
  module?: string | readonly string[];
  /**
   * A backstop for handlers that read request bodies past this many bytes
   * (default: the listen options' maxFrameBytes): 413 and the connection
   * closed. The core's own reader refuses first, keeping the connection.
   */
  maxBodyBytes?: number;
  /**
   * Share the port with other processes (SO_REUSEPORT) for listens that do
   * not say (`TransportListenOptions.reusePort`). Default false: uWS would
   * otherwise share it silently, and a second server on a busy port would
   * start and take half its connections instead of failing.
   */
  reusePort?: boolean;
}

export class UwsTransport implements Transport {
  readonly name = "uws";
  #uws: UwsModule | undefined;
  #app: UwsApp | undefined;
  #token: UwsListenToken | undefined;
  #accepting = false;
  readonly #sockets = new Set<UwsWebSocket<SocketData>>();
  /** Open HTTP responses (SSE streams above all), ended by stop(true). */
  readonly #responses = new Map<UwsHttpResponse, ResponseState>();

  constructor(readonly options: UwsTransportOptions = {}) {}

  async listen(host: TransportHost<unknown>, o: TransportListenOptions): Promise<{ host: string; port: number }> {
    const m = this.options.module;
    const uws = (this.#uws = await loadUws(m === undefined ? DEFAULT_UWS_MODULES : typeof m === "string" ? [m] : m));
    const maxBody = this.options.maxBodyBytes ?? o.maxFrameBytes;
    const sockets = this.#sockets;
    const app = uws.App();
    const behavior: UwsWebSocketBehavior<SocketData> = {
      maxPayloadLength: o.maxFrameBytes,
      maxBackpressure: o.backpressureLimit,
      // The core acts on slow consumers itself, before this native limit.
      closeOnBackpressureLimit: 0,
      // The core judges liveness itself (core/liveness.ts: it pings after
      // idleTimeoutSec of silence and closes with 4009); uWS's own timer
      // would race it with a bare close, and refuses values from 1 to 8.
      idleTimeout: 0,
      sendPingsAutomatically: false,
      compression: o.perMessageDeflate ? uws.SHARED_COMPRESSOR : uws.DISABLED,
      upgrade: (res, req, ctx) => this.#upgrade(host, res, req, ctx),
      open(ws) {
        const d = ws.getUserData();
        const s = (d.socket = new UwsSocket(ws));
        sockets.add(ws);
        host.onOpen(s, d.state);
      },
      message(ws, msg, isBinary) {
        // uWS neuters `msg` when this returns; the core may keep the bytes (retained values).
        host.onMessage(ws.getUserData().state, isBinary ? new Uint8Array(msg.slice(0)) : utf8.decode(msg));
      },
      drain(ws) {
        host.onDrain(ws.getUserData().state);
      },
      pong(ws) {
        host.onPong?.(ws.getUserData().state);
      },
      close(ws, code, msg) {
        const d = ws.getUserData();
        if (d.socket) d.socket.closed = true;
        sockets.delete(ws);
        host.onClose(d.state, code, utf8.decode(msg));
      },
    };
    // One route per path (the legacy protocols' too); the host tells them apart by URL.
    for (const path of new Set([host.wsPath, ...(host.upgradePaths ?? [])])) app.ws<SocketData>(path, behavior);
    app.any("/*", (res, req) => this.#http(host, res, req, maxBody));
    const shared = o.reusePort ?? this.options.reusePort ?? false;
    const listenOpt = shared ? 0 : (uws.LIBUS_LISTEN_EXCLUSIVE_PORT ?? 1);
    const token = await new Promise<UwsListenToken | false>((ok) => app.listen(o.host, o.port, listenOpt, ok));
    if (!token) throw new Error(`uWebSockets.js could not listen on ${o.host}:${o.port}${shared ? "" : " (in use?)"}`);
    this.#app = app;
    this.#token = token;
    this.#accepting = true;
    return { host: o.host, port: uws.us_socket_local_port(token) };
  }

  /**
   * uWS's async upgrade rules: everything from `req` (and the key, protocol
   * and extensions that `res.upgrade` needs) is read before the first await,
   * onAborted is set before it, and the answer is written corked.
   */
  async #upgrade(host: TransportHost<unknown>, res: UwsHttpResponse, req: UwsHttpRequest, ctx: UwsSocketContext): Promise<void> {
    const key = req.getHeader("sec-websocket-key");
    const ext = req.getHeader("sec-websocket-extensions");
    const head = readHead(res, req);
    const st: ResponseState = { aborted: false };
    res.onAborted(() => {
      st.aborted = true;
      st.wake?.();
    });
    const protocols = (head.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    let r: Awaited<ReturnType<TransportHost<unknown>["upgrade"]>>;
    try {
      r = this.#accepting ? await host.upgrade({ url: head.url, headers: head.headers, remoteAddress: head.remoteAddress, protocols }) : new Response("server is shutting down", { status: 503 });
    } catch {
      r = new Response("upgrade failed", { status: 500 });
    }
    if (r instanceof Response) return sendResponse(res, r, st);
    if (st.aborted) return void host.abandon?.(r.state);
    const data: SocketData = { state: r.state, socket: null };
    const protocol = r.protocol ?? "";
    res.cork(() => res.upgrade(data, key, protocol, ext, ctx));
  }

  #http(host: TransportHost<unknown>, res: UwsHttpResponse, req: UwsHttpRequest, maxBody: number): void {
    const head = readHead(res, req);
    const st: ResponseState = { aborted: false };
    const ac = new AbortController();
    const responses = this.#responses;
    responses.set(res, st);
    res.onAborted(() => {
      st.aborted = true;
      responses.delete(res);
      ac.abort();
      st.wake?.();
      st.cancel?.();
    });
    const hasBody = head.method !== "GET" && head.method !== "HEAD";
    const body = hasBody ? bodyStream(res, maxBody, st) : null;
    const request = new Request(head.url, { method: head.method, headers: head.headers, body, signal: ac.signal, duplex: "half" } as RequestInit);
    void (async () => {
      let r: Response;
      try {
        r = await host.fetch(request, head.remoteAddress);
      } catch {
        r = Response.json({ error: { code: "INTERNAL", message: "internal error" } }, { status: 500 });
      }
      await sendResponse(res, r, st);
      responses.delete(res);
    })();
  }

  publish(channel: string, frame: Uint8Array | string): void {
    this.#app!.publish(channel, frame, typeof frame !== "string");
  }

  async stop(closeActive: boolean): Promise<void> {
    this.#accepting = false;
    if (this.#token) {
      this.#uws!.us_listen_socket_close(this.#token);
      this.#token = undefined;
    }
    if (!closeActive) return;
    for (const ws of [...this.#sockets]) {
      const s = ws.getUserData().socket;
      if (s) s.closed = true;
      ws.close();
    }
    // An ended response must not be touched again (uWS throws).
    for (const [res, st] of [...this.#responses]) {
      if (st.aborted || st.done) continue;
      st.done = true;
      res.close();
      // A writer waiting on onWritable, and the body's producer, learn now.
      st.wake?.();
      st.cancel?.();
    }
    this.#responses.clear();
  }
}

/** The uWebSockets.js transport; the module is loaded when it starts listening. */
export function uwsTransport(options: UwsTransportOptions = {}): Transport {
  return new UwsTransport(options);
}
