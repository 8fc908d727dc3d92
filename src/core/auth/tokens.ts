/**
 * JWT verification with jose: HS256 with a shared secret, or RS256 / ES256 /
 * EdDSA with a public key or a JWKS. `alg: none` and any algorithm not
 * configured are refused by jose before the signature is looked at.
 *
 * Claims tickgate reads: `sub` (who), `exp`/`nbf`/`aud`/`iss` (standard),
 * and `tg`: `{ client, subscribe, publish, request, admin }` where the topic
 * lists may use `{claim}` templates such as `devices.{sub}.>`.
 * @module
 */
import { createLocalJWKSet, importSPKI, jwtVerify, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import { CLIENT_TYPES, type ClientType } from "../../protocol/frames.ts";
import { ErrorCode } from "../../protocol/codes.ts";
import { TickgateError } from "../errors.ts";
import type { AuthOptions } from "../options.ts";
import { expandGrants, type Grants } from "./grants.ts";

export interface Identity {
  /** The token's subject: a user, an API key's owner, a device id. */
  sub: string;
  client: ClientType | undefined;
  grants: Grants;
  /** Expiry in ms since the epoch, or undefined for a token without `exp`. */
  expiresAt: number | undefined;
}

/**
 * Why a token was refused; safe to send to the client and to log (never the
 * token itself). Its `code` is the wire code: TOKEN_EXPIRED for an expired
 * token, UNAUTHORIZED for every other reason.
 */
export class TokenError extends TickgateError {
  constructor(
    readonly reason: "malformed" | "signature" | "algorithm" | "expired" | "not_yet_valid" | "claims" | "audience" | "issuer",
    message: string,
  ) {
    super(reason === "expired" ? ErrorCode.TOKEN_EXPIRED : ErrorCode.UNAUTHORIZED, message);
    this.name = "TokenError";
  }
}

const TgClaim = z
  .object({
    client: z.enum(CLIENT_TYPES).optional(),
    subscribe: z.array(z.string().max(256)).max(256).default([]),
    publish: z.array(z.string().max(256)).max(256).default([]),
    request: z.array(z.string().max(256)).max(256).default([]),
    admin: z.boolean().default(false),
  })
  .default({ subscribe: [], publish: [], request: [], admin: false });

export class TokenVerifier {
  readonly #key: Promise<Uint8Array | CryptoKey | JWTVerifyGetKey>;
  readonly #algorithms: string[];

  constructor(readonly options: AuthOptions) {
    if (options.secret) {
      this.#key = Promise.resolve(new TextEncoder().encode(options.secret));
      this.#algorithms = ["HS256"];
    } else if (options.publicKey) {
      const alg = options.publicKeyAlgorithm;
      this.#key = importSPKI(options.publicKey, alg);
      this.#algorithms = [alg];
    } else if (options.jwks) {
      this.#key = Promise.resolve(createLocalJWKSet(options.jwks as Parameters<typeof createLocalJWKSet>[0]));
      this.#algorithms = ["RS256", "ES256", "EdDSA"];
    } else {
      this.#key = Promise.reject(new Error("no key configured"));
      this.#key.catch(() => {});
      this.#algorithms = [];
    }
  }

  async verify(token: string): Promise<Identity> {
    if (typeof token !== "string" || token.length > 8192 || token.split(".").length !== 3) {
      throw new TokenError("malformed", "token is not a compact JWT");
    }
    let payload: JWTPayload;
    try {
      const key = await this.#key;
      const opts = {
        algorithms: this.#algorithms,
        clockTolerance: this.options.clockToleranceSec,
        ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience ? { audience: this.options.audience } : {}),
      };
      payload = (typeof key === "function" ? await jwtVerify(token, key, opts) : await jwtVerify(token, key, opts)).payload;
    } catch (e) {
      throw toTokenError(e);
    }
    if (this.options.requireExp && typeof payload.exp !== "number") {
      throw new TokenError("claims", "token has no 'exp' claim");
    }
    if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 128) {
      throw new TokenError("claims", "token has no usable 'sub' claim");
    }
    const tg = TgClaim.safeParse(payload.tg);
    if (!tg.success) throw new TokenError("claims", `token claim 'tg' is invalid: ${tg.error.issues[0]!.message}`);
    const claims = payload as Record<string, unknown>;
    return {
      sub: payload.sub,
      client: tg.data.client,
      grants: {
        subscribe: expandGrants(tg.data.subscribe, claims),
        publish: expandGrants(tg.data.publish, claims),
        request: expandGrants(tg.data.request, claims),
        admin: tg.data.admin,
      },
      expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : undefined,
    };
  }
}

function toTokenError(e: unknown): TokenError {
  if (e instanceof joseErrors.JWTExpired) return new TokenError("expired", "token has expired");
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === "nbf") return new TokenError("not_yet_valid", "token is not valid yet");
    if (e.claim === "aud") return new TokenError("audience", "token is for another audience");
    if (e.claim === "iss") return new TokenError("issuer", "token is from another issuer");
    return new TokenError("claims", `token claim '${e.claim}' is invalid`);
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed || e instanceof joseErrors.JOSENotSupported) return new TokenError("algorithm", "token algorithm is not accepted");
  if (e instanceof joseErrors.JWSSignatureVerificationFailed || e instanceof joseErrors.JWKSNoMatchingKey) return new TokenError("signature", "token signature is invalid");
  return new TokenError("malformed", "token could not be read");
}
