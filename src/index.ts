/**
 * tickgate: the runtime-free server API. Pick a transport from
 * `tickgate/bun` (`createServer()` / `serve()` there wire everything for
 * Bun). The server is the {@link TickgateServer} interface; its
 * implementation and subsystems are internal.
 * @module
 */
export type { TickgateServer, PublishOptions, ConnectionInfo, ConnectionListener, RouteHandler, RequestSchema, ListenAddress } from "./core/api.ts";
export type { ServerDeps } from "./core/server.ts";
export { parseOptions, defaultOptions, DEFAULT_POLICY, type Options, type Policy, type ServerOptions, type UserOptions } from "./core/options.ts";
export { TickgateError, ConfigError, ProtocolError, TimeoutError } from "./core/errors.ts";
export { mintToken, type TokenClaims } from "./core/auth/mint.ts";
export { LocalBus, type Bus, type BusNode, type Draft, type Sequenced } from "./core/bus.ts";
export type { Transport, TransportHost, ServerSocket, SendResult, UpgradeInfo } from "./core/transport.ts";
export type { Logger } from "./core/log.ts";
export type { LegacyProtocol, LegacyConnection, LegacyDecoded, LegacyFrame, TickgateFrame, ClientFrameInput } from "./core/legacy.ts";
export type { RequestHandler, RequestContext } from "./core/requests.ts";
export type { StatsSnapshot } from "./core/stats.ts";
export { ErrorCode, CloseCode, GapReason } from "./protocol/codes.ts";
export { BATCH_SUBPROTOCOL, SUBPROTOCOL, type BatchFrame, type Encoding, type ClientType } from "./protocol/frames.ts";
export { httpRoutes } from "./http/routes.ts";
