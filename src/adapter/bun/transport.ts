/**
 * Transport on `Bun.serve`: uWebSockets inside, whose native topics do the
 * fan-out. This file is the only one that knows Bun's WebSocket API.
 * @module
 */
import type { Server, ServerWebSocket } from "bun";
import type { SendResult, ServerSocket, Transport, TransportHost, TransportListenOptions } from "../../core/transport.ts";

/**
 * A connection's socket as the core sees it, and Bun's per-socket `data`:
 * one object per connection, made at the upgrade, its `ws` set on open.
 * Maps Bun's numeric send status (bytes / -1 / 0) to the core's SendResult.
 */
class BunSocket implements ServerSocket {
  ws!: ServerWebSocket<BunSocket>;
  constructor(readonly state: unknown) {}
  send(frame: Uint8Array | string): SendResult {
    const n = this.ws.send(frame);
    return n > 0 ? "sent" : n === -1 ? "buffered" : "dropped";
  }
  subscribe(channel: string): void {
    this.ws.subscribe(channel);
  }
  unsubscribe(channel: string): void {
    this.ws.unsubscribe(channel);
  }
  bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  ping(): void {
    this.ws.ping();
  }
  get remoteAddress(): string {
    return this.ws.remoteAddress;
  }
}

type Granted = { state: unknown; protocol?: string };

export class BunTransport implements Transport {
  readonly name = "bun";
  #server: Server<BunSocket> | undefined;
  readonly #reusePort: boolean;

  /** `reusePort`: the default for listens that do not say (the core's listen does not). */
  constructor(opts: { reusePort?: boolean } = {}) {
    this.#reusePort = opts.reusePort ?? false;
  }

  async listen(host: TransportHost<unknown>, o: TransportListenOptions): Promise<{ host: string; port: number }> {
    const wsPath = host.wsPath;
    const clientAddress = o.clientAddress ?? ((peer: string) => peer);
    // Legacy protocols' paths; usually none, so the native path costs one comparison as before.
    const extra = host.upgradePaths ?? [];
    // Completes an upgrade the host granted (or answers its refusal).
    const finish = (req: Request, server: Server<BunSocket>, r: Granted | Response): Response | undefined => {
      if (r instanceof Response) return r;
      const headers = r.protocol ? { "Sec-WebSocket-Protocol": r.protocol } : undefined;
      if (server.upgrade(req, { data: new BunSocket(r.state), headers })) return undefined;
      host.abandon?.(r.state);
      return new Response("WebSocket upgrade failed", { status: 400 });
    };
    this.#server = Bun.serve<BunSocket>({
      hostname: o.host,
      port: o.port,
      reusePort: o.reusePort ?? this.#reusePort,
      // Not async: an upgrade the host settles at once completes in this turn, with no promise for Bun to wait on.
      fetch(req, server) {
        const ip = clientAddress(server.requestIP(req)?.address ?? "", req.headers);
        const url = new URL(req.url);
        if ((url.pathname === wsPath || (extra.length > 0 && extra.includes(url.pathname))) && req.headers.get("upgrade")?.toLowerCase() === "websocket") {
          const offered = req.headers.get("sec-websocket-protocol");
          const protocols = offered === null ? [] : offered.split(",").map((p) => p.trim()).filter(Boolean);
          const r = host.upgrade({ url, headers: req.headers, remoteAddress: ip, protocols });
          return r instanceof Promise ? r.then((x) => finish(req, server, x)) : finish(req, server, r);
        }
        return host.fetch(req, ip);
      },
      websocket: {
        maxPayloadLength: o.maxFrameBytes,
        backpressureLimit: o.backpressureLimit,
        closeOnBackpressureLimit: false,
        idleTimeout: o.idleTimeoutSec,
        sendPings: o.sendPings,
        perMessageDeflate: o.perMessageDeflate,
        publishToSelf: true,
        open(ws) {
          ws.binaryType = "uint8array";
          const s = ws.data;
          s.ws = ws;
          host.onOpen(s, s.state);
        },
        message(ws, data) {
          host.onMessage(ws.data.state, data as Uint8Array | string);
        },
        pong(ws) {
          host.onPong?.(ws.data.state);
        },
        drain(ws) {
          host.onDrain(ws.data.state);
        },
        close(ws, code, reason) {
          host.onClose(ws.data.state, code, reason);
        },
      },
    });
    return { host: this.#server.hostname ?? o.host, port: this.#server.port ?? o.port };
  }

  publish(channel: string, frame: Uint8Array | string): void {
    this.#server!.publish(channel, frame);
  }

  async stop(closeActive: boolean): Promise<void> {
    if (closeActive) await this.#server?.stop(true);
    // Without closeActive Bun's promise waits for every connection to end,
    // which is the caller's job to bring about; do not wait on it here.
    else void this.#server?.stop(false);
  }
}

export function bunTransport(opts: { reusePort?: boolean } = {}): Transport {
  return new BunTransport(opts);
}
