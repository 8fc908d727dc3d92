/**
 * The boundary between the runtime-free core and a runtime's WebSocket
 * server. The core owns these types; `adapter/bun/transport.ts` (and later
 * `adapter/uws/`) implement them. Sockets are described by shape so no
 * runtime package leaks in.
 * @module
 */

/** What happened to a frame handed to one socket. */
export type SendResult = "sent" | "buffered" | "dropped";

/** One accepted WebSocket connection, as the core sees it. */
export interface ServerSocket {
  send(frame: Uint8Array | string): SendResult;
  /** Joins a native fan-out channel. */
  subscribe(channel: string): void;
  unsubscribe(channel: string): void;
  /** Bytes queued in user space, not yet written to the kernel. */
  bufferedAmount(): number;
  close(code: number, reason: string): void;
  /** Sends a WebSocket ping; the answer arrives as {@link TransportHost.onPong}. Absent on streams (SSE). */
  ping?(): void;
  readonly remoteAddress: string;
}

/** What the transport learned from the HTTP upgrade request. */
export interface UpgradeInfo {
  url: URL;
  headers: Headers;
  remoteAddress: string;
  /** Subprotocols offered by the client, in order. */
  protocols: string[];
  /** Which kind of connection asks: a WebSocket (the default) or an SSE stream. */
  via?: "ws" | "sse";
}

/** The core's side of the boundary: the transport calls these. */
export interface TransportHost<S = unknown> {
  /**
   * Decides on an upgrade: returns the per-connection state to attach and the
   * subprotocol to answer with, or a Response that refuses it.
   */
  upgrade(info: UpgradeInfo): { state: S; protocol?: string } | Response | Promise<{ state: S; protocol?: string } | Response>;
  onOpen(socket: ServerSocket, state: S): void;
  /** An upgrade that `upgrade` granted did not complete; the connection never opened. */
  abandon?(state: S): void;
  onMessage(state: S, data: Uint8Array | string): void;
  /**
   * The peer answered a WebSocket ping. With `onMessage`, this is how the
   * host learns the peer is alive (liveness counts only what the peer sends).
   */
  onPong?(state: S): void;
  /** The socket's send buffer drained after backpressure. */
  onDrain(state: S): void;
  onClose(state: S, code: number, reason: string): void;
  /** Plain HTTP requests (health, stats, publish API, pages). */
  fetch(req: Request, remoteAddress: string): Response | Promise<Response>;
  /** Path on which WebSocket upgrades are accepted. */
  readonly wsPath: string;
  /**
   * Further paths that take WebSocket upgrades (legacy protocols, see
   * `core/legacy.ts`); fixed once `listen` is called. An upgrade on any of
   * them goes to `upgrade` like one on `wsPath`; the host tells them apart
   * by `info.url`.
   */
  readonly upgradePaths?: readonly string[];
}

export interface TransportListenOptions {
  host: string;
  port: number;
  maxFrameBytes: number;
  /** Native per-socket cap; past it the runtime drops frames silently, so the core acts earlier. */
  backpressureLimit: number;
  idleTimeoutSec: number;
  sendPings: boolean;
  perMessageDeflate: boolean;
  /**
   * Share the port with other processes (SO_REUSEPORT; Linux spreads new
   * connections over them). Worker processes of `tickgate serve --workers` set it.
   */
  reusePort?: boolean;
  /** The client's address from the peer address and headers (trusted proxies, core/forwarded.ts); default: the peer's. */
  clientAddress?: (peer: string, headers: Headers) => string;
}

export interface Transport {
  readonly name: string;
  listen(host: TransportHost<any>, opts: TransportListenOptions): Promise<{ host: string; port: number }>;
  /** Native fan-out: every socket subscribed to `channel` gets these same bytes. */
  publish(channel: string, frame: Uint8Array | string): void;
  /**
   * Stops accepting connections. With `closeActive` false, open sockets stay
   * (the core closes them itself with 1001); with true, any left are dropped.
   */
  stop(closeActive: boolean): Promise<void>;
}
