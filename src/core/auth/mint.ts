/**
 * Minting tokens in the layout tickgate reads (`sub`, `exp`, `tg`), for
 * issuers written in TypeScript and for the CLI's development tokens.
 * @module
 */
import { SignJWT, type CryptoKey, type KeyObject } from "jose";
import type { ClientType } from "../../protocol/frames.ts";

export interface TokenClaims {
  sub: string;
  client?: ClientType;
  subscribe?: string[];
  publish?: string[];
  request?: string[];
  admin?: boolean;
  /** Lifetime in seconds. */
  ttlSec: number;
  audience?: string;
  issuer?: string;
  /** Any other claims, e.g. for `{claim}` templates in the grants. */
  extra?: Record<string, unknown>;
}

/**
 * Signs a token: HS256 when `key` is a string secret (≥ 32 characters), or
 * with `alg` (RS256 / ES256 / EdDSA) and a private key.
 * @example
 * const token = await mintToken({ sub: "pico-1", client: "device", publish: ["devices.{sub}.>"], ttlSec: 3600 }, secret);
 */
export async function mintToken(c: TokenClaims, key: string | CryptoKey | KeyObject, alg: "HS256" | "RS256" | "ES256" | "EdDSA" = "HS256"): Promise<string> {
  const tg = {
    ...(c.client ? { client: c.client } : {}),
    subscribe: c.subscribe ?? [],
    publish: c.publish ?? [],
    request: c.request ?? [],
    admin: c.admin ?? false,
  };
  const jwt = new SignJWT({ ...(c.extra ?? {}), tg }).setSubject(c.sub).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + c.ttlSec);
  if (c.audience) jwt.setAudience(c.audience);
  if (c.issuer) jwt.setIssuer(c.issuer);
  if (typeof key === "string") {
    if (alg !== "HS256") throw new Error(`a string secret signs HS256, not ${alg}`);
    if (key.length < 32) throw new Error("the secret must be at least 32 characters");
    return jwt.setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(key));
  }
  return jwt.setProtectedHeader({ alg }).sign(key);
}
