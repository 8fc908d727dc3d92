/**
 * Legacy protocols that ship with tickgate (`tickgate/legacy`): the device
 * protocol of the earlier device gateway and SmartSignal's client protocol.
 * Register one with `server.legacy(...)` before `listen()`; see
 * `docs/migrating.md`. Nothing here runs on the native path.
 * @module
 */
export { device004, DEFAULT_PING_INTERVAL_MS, type Device004Options } from "./device-004.ts";
export { smartsignal000, SEED_TEXT, COMMANDS as SMARTSIGNAL_COMMANDS, seedTime, type SmartSignal000Options } from "./smartsignal-000.ts";
export type { LegacyProtocol, LegacyConnection, LegacyDecoded, LegacyFrame, TickgateFrame, ClientFrameInput } from "../core/legacy.ts";
