/**
 * The slice of uWebSockets.js this adapter uses, described by shape so no
 * uWS package's types leak out of `src/adapter/uws/` (and so any compatible
 * build satisfies it). Types only; no runtime cost.
 * @module
 */

/** Strings or bytes; uWS copies (or writes) them before the call returns. */
export type UwsData = string | ArrayBuffer | Uint8Array;

/** Opaque handle from `listen`. */
export type UwsListenToken = object;
export type UwsSocketContext = object;

export interface UwsWebSocket<U> {
  /** 1: sent, 0: sent but queued (backpressure), 2: dropped (past maxBackpressure). */
  send(message: UwsData, isBinary?: boolean, compress?: boolean): number;
  getBufferedAmount(): number;
  /** Graceful close with a close frame. */
  end(code?: number, shortMessage?: UwsData): void;
  /** Abrupt close, no close frame. */
  close(): void;
  subscribe(topic: UwsData): boolean;
  unsubscribe(topic: UwsData): boolean;
  cork(cb: () => void): UwsWebSocket<U>;
  /** Sends a ping control frame; same status codes as send. */
  ping(message?: UwsData): number;
  getRemoteAddressAsText(): ArrayBuffer;
  getUserData(): U;
}

export interface UwsHttpResponse {
  pause(): void;
  resume(): void;
  writeStatus(status: UwsData): UwsHttpResponse;
  writeHeader(key: UwsData, value: UwsData): UwsHttpResponse;
  write(chunk: UwsData): boolean;
  end(body?: UwsData, closeConnection?: boolean): UwsHttpResponse;
  /** [ok, done]: ok false means the rest waits for onWritable. */
  tryEnd(chunk: UwsData, totalSize: number): [boolean, boolean];
  close(): UwsHttpResponse;
  getWriteOffset(): number;
  onWritable(handler: (offset: number) => boolean): UwsHttpResponse;
  onAborted(handler: () => void): UwsHttpResponse;
  /** The chunk's ArrayBuffer is neutered when the handler returns. */
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): UwsHttpResponse;
  getRemoteAddressAsText(): ArrayBuffer;
  cork(cb: () => void): UwsHttpResponse;
  upgrade<U>(userData: U, secWebSocketKey: UwsData, secWebSocketProtocol: UwsData, secWebSocketExtensions: UwsData, context: UwsSocketContext): void;
}

/** Valid only until the handler returns or awaits: read everything first. */
export interface UwsHttpRequest {
  getHeader(lowerCaseKey: string): string;
  getUrl(): string;
  getMethod(): string;
  getQuery(): string | undefined;
  forEach(cb: (key: string, value: string) => void): void;
}

export interface UwsWebSocketBehavior<U> {
  maxPayloadLength?: number;
  /** A number in the builds we know (0/1), a boolean in newer ones. */
  closeOnBackpressureLimit?: number | boolean;
  idleTimeout?: number;
  compression?: number;
  maxBackpressure?: number;
  sendPingsAutomatically?: boolean;
  upgrade?: (res: UwsHttpResponse, req: UwsHttpRequest, context: UwsSocketContext) => void | Promise<void>;
  open?: (ws: UwsWebSocket<U>) => void;
  message?: (ws: UwsWebSocket<U>, message: ArrayBuffer, isBinary: boolean) => void;
  drain?: (ws: UwsWebSocket<U>) => void;
  /** A pong control frame arrived (pings are answered by uWS itself). */
  pong?: (ws: UwsWebSocket<U>, message: ArrayBuffer) => void;
  close?: (ws: UwsWebSocket<U>, code: number, message: ArrayBuffer) => void;
}

export interface UwsApp {
  ws<U>(pattern: string, behavior: UwsWebSocketBehavior<U>): UwsApp;
  any(pattern: string, handler: (res: UwsHttpResponse, req: UwsHttpRequest) => void): UwsApp;
  /** `options`: 0 (LIBUS_LISTEN_DEFAULT, SO_REUSEPORT on) or LIBUS_LISTEN_EXCLUSIVE_PORT (1). */
  listen(host: string, port: number, options: number, cb: (token: UwsListenToken | false) => void): UwsApp;
  publish(topic: UwsData, message: UwsData, isBinary?: boolean, compress?: boolean): boolean;
  numSubscribers(topic: UwsData): number;
}

/** The module object a uWebSockets.js build exports. */
export interface UwsModule {
  App(): UwsApp;
  us_listen_socket_close(token: UwsListenToken): void;
  us_socket_local_port(token: UwsListenToken): number;
  SHARED_COMPRESSOR: number;
  /** Listen option: no SO_REUSEPORT (absent in some builds, where it is 1). */
  LIBUS_LISTEN_EXCLUSIVE_PORT?: number;
  DISABLED: number;
}
