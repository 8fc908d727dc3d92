/**
 * Device and operator grants, and tokens signed with tickgate's own
 * `mintToken` (the claim layout `tickgate token` writes: `sub`, `iat`,
 * `exp` and the `tg` claim). From a terminal:
 *
 *   TICKGATE_AUTH_SECRET=<secret> npm run -s tickgate -- token --sub pico-1 --client device \
 *     --publish 'devices.{sub}.>' --subscribe 'devices.{sub}.commands' --ttl 12h
 * @module
 */
import { mintToken, type TokenClaims } from "tickgate";

/** What a token allows: its claims without the subject and lifetime. */
export type Grants = Omit<TokenClaims, "sub" | "ttlSec">;

/** A device may publish under its own `devices.<id>.` and nothing else; `{sub}` is filled from the token. */
export const DEVICE_GRANTS: Grants = { client: "device", publish: ["devices.{sub}.>"], subscribe: ["devices.{sub}.commands"] };
/** The operator watches every device and may command any of them. */
export const OPERATOR_GRANTS: Grants = { client: "api", subscribe: ["devices.>"], publish: ["devices.*.commands"] };

/** An HS256 token for `sub` with these grants, valid for `ttlSec` (negative: already expired, for tests). */
export function mint(secret: string, sub: string, grants: Grants, ttlSec = 12 * 3600): Promise<string> {
  return mintToken({ ...grants, sub, ttlSec }, secret);
}

/** The CLI command that mints the same device token (printed by the example). */
export function cliCommand(sub: string): string {
  return `npm run -s tickgate -- token --sub ${sub} --client device --publish 'devices.{sub}.>' --subscribe 'devices.{sub}.commands' --ttl 12h`;
}
