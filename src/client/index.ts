/**
 * tickgate client SDK: the same code in browsers, Bun and Node 20+ (only
 * the WebSocket implementation differs; pass one where there is no global).
 * @example
 * import { TickgateClient } from "tickgate/client";
 *
 * const client = new TickgateClient("ws://127.0.0.1:8080/ws").connect();
 * client.subscribe("prices.*", (tick, { topic, seq }) => console.log(topic, seq, tick));
 * await client.ready();
 * @module
 */
export { TickgateClient } from "./client.ts";
export type { ClientOptions, Will } from "./options.ts";
export type {
  ClientEvents,
  ClientMode,
  ClientState,
  ClientStats,
  ClientWarning,
  CommandOptions,
  LogLevel,
  PublishOptions,
  RequestOptions,
  ServerStats,
  SessionStats,
  SubscribeOptions,
  Subscription,
  SubscriptionFilter,
  TopicStats,
} from "./types.ts";
export { CommandRefused, type CommandHandler, type CommandInfo } from "./commands.ts";
export { Backoff, backoffDelay, DEFAULT_BACKOFF, resolveBackoff, type BackoffOptions } from "./backoff.ts";
export { ClientErrorCode, TickgateClientError } from "./errors.ts";
export type { GapInfo, MessageMeta } from "./subscription.ts";
export type { WebSocketConstructor, WebSocketLike } from "./ws-link.ts";
export { ErrorCode } from "../protocol/codes.ts";
export type { ClientType, Encoding, WelcomeFrame } from "../protocol/wire.ts";
export { TickgateError } from "../protocol/errors.ts";
