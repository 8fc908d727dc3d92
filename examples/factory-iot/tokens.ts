/**
 * The relay controllers' device tokens: their grants, and the command line
 * that mints the same token for a real controller. A controller's token
 * lets it take its own commands and report its own relays, nothing else.
 * @module
 */
import type { TokenClaims } from "tickgate";
import { METHODS } from "./types.ts";

/**
 * What a relay controller's token allows: its own `devices.<id>.` topics
 * (presence, log, command acks), its commands, and `report_relay`.
 */
export const CONTROLLER_GRANTS: Omit<TokenClaims, "sub" | "ttlSec"> = {
  client: "device",
  publish: ["devices.{sub}.>"],
  subscribe: ["devices.{sub}.commands"],
  request: [METHODS.report],
};

/** The CLI arguments that mint {@link CONTROLLER_GRANTS} for controller `id`. */
export function mintArgs(id: string, ttl = "30d"): string[] {
  return ["token", "--sub", id, "--client", "device", "--publish", "devices.{sub}.>", "--subscribe", "devices.{sub}.commands", "--request", METHODS.report, "--ttl", ttl];
}

/** The shell command for a real controller's token; the secret is read from `secretFile` (or already in the environment). */
export function mintCommand(id: string, secretFile?: string): string {
  const env = secretFile ? `TICKGATE_AUTH_SECRET="$(cat ${secretFile})" ` : "";
  return `${env}npm run -s tickgate -- ${mintArgs(id).map((a) => (/^[\w.-]+$/.test(a) ? a : `'${a}'`)).join(" ")}`;
}
