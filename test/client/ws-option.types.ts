/**
 * Type-level test, checked by `tsc` (npm test runs it first): the `ws`
 * package's WebSocket fits the client's `WebSocket` option as it is, the
 * recipe docs/client.md gives for Node 20 (issue 11). Not run by `bun test`.
 */
import WebSocket from "ws";
import { TickgateClient, type ClientOptions, type WebSocketConstructor } from "../../src/client/index.ts";

export const withWs = new TickgateClient("ws://127.0.0.1:1/ws", { WebSocket });
export const asOption: ClientOptions = { WebSocket, encoding: "json" };
export const asConstructor: WebSocketConstructor = WebSocket;
// The browser's (and Bun's, Node 22's) global fits as well.
export const global: WebSocketConstructor = globalThis.WebSocket;

// Something that is not a WebSocket does not.
class NotASocket {
  constructor(readonly url: string) {}
}
// @ts-expect-error: no send, close or handlers
export const wrong: ClientOptions = { WebSocket: NotASocket };
