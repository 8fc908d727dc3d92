/**
 * Who gets in: origin allow-list, connection limits (total and per IP) and
 * the token presented with the upgrade. There is no exception for any
 * address, localhost included.
 * @module
 */
import { ErrorCode } from "../../protocol/codes.ts";
import type { Options } from "../options.ts";
import { ALL, type Grants } from "./grants.ts";
import { TokenError, type Identity, type TokenVerifier } from "./tokens.ts";

export interface AdmissionCounters {
  refusedOrigin: number;
  refusedPerIp: number;
  refusedTotal: number;
  authFailures: number;
  authTimeouts: number;
  expired: number;
  forbidden: number;
  rateLimited: number;
}

export type Refusal = { status: number; code: string; message: string };

export type Admitted = { identity: Identity | null; grants: Grants; awaitingAuth: boolean };

/** Auth off, or a token with no verifier configured: everything allowed. Shared; never changed. */
const OPEN: Admitted = Object.freeze({ identity: null, grants: ALL, awaitingAuth: false });

/** The bearer token of a request: `Authorization: Bearer`, or `?token=` where allowed. */
export function bearerToken(headers: Headers, url: URL, queryAllowed: boolean): string | null {
  const h = headers.get("authorization");
  // Present but empty is still present: refused, never read as "no token".
  if (h !== null) {
    const m = /^Bearer\s+(\S+)$/i.exec(h.trim());
    return m ? m[1]! : "";
  }
  return queryAllowed ? url.searchParams.get("token") : null;
}

export class Admission {
  readonly #perIp = new Map<string, number>();
  #open = 0;
  readonly counters: AdmissionCounters = { refusedOrigin: 0, refusedPerIp: 0, refusedTotal: 0, authFailures: 0, authTimeouts: 0, expired: 0, forbidden: 0, rateLimited: 0 };
  readonly anonymous: Grants;

  constructor(
    readonly options: Options,
    readonly verifier: TokenVerifier | null,
  ) {
    const a = options.auth.anonymous;
    this.anonymous = Object.freeze({ subscribe: a.subscribe, publish: a.publish, request: a.request, admin: false });
  }

  get required(): boolean {
    return this.options.auth.required;
  }

  /** Browsers send Origin; by default only the server's own origin may connect. */
  originAllowed(headers: Headers): boolean {
    const origin = headers.get("origin");
    if (origin === null) return true;
    const allowed = this.options.limits.allowedOrigins;
    if (allowed.includes("*") || allowed.includes(origin)) return true;
    try {
      return new URL(origin).host === headers.get("host");
    } catch {
      return false;
    }
  }

  /** Limits and origin; the cheap checks, done before any token work. */
  gate(headers: Headers, ip: string): Refusal | null {
    const l = this.options.limits;
    if (!this.originAllowed(headers)) {
      this.counters.refusedOrigin++;
      return { status: 403, code: ErrorCode.ORIGIN_NOT_ALLOWED, message: `origin '${(headers.get("origin") ?? "").slice(0, 100)}' is not allowed` };
    }
    if (this.#open >= l.maxConnections) {
      this.counters.refusedTotal++;
      return { status: 503, code: ErrorCode.TOO_MANY_CONNECTIONS, message: `the server holds ${l.maxConnections} connections already` };
    }
    if ((this.#perIp.get(ip) ?? 0) >= l.maxConnectionsPerIp) {
      this.counters.refusedPerIp++;
      return { status: 429, code: ErrorCode.TOO_MANY_CONNECTIONS, message: `at most ${l.maxConnectionsPerIp} connections per address` };
    }
    return null;
  }

  /** Whether a connection from `ip` would pass the connection limits; counts nothing. */
  hasRoom(ip: string): boolean {
    const l = this.options.limits;
    return this.#open < l.maxConnections && (this.#perIp.get(ip) ?? 0) < l.maxConnectionsPerIp;
  }

  /** Verifies the token, if any, and decides what the connection starts with. */
  async admit(token: string | null): Promise<Admitted | Refusal> {
    return this.admitNow(token);
  }

  /**
   * As {@link admit}, but settled at once when there is no token to verify
   * (the common upgrade): no promise, so the upgrade completes in the turn
   * that asked for it.
   */
  admitNow(token: string | null): Admitted | Refusal | Promise<Admitted | Refusal> {
    if (token !== null) return this.verifier ? this.#verify(this.verifier, token) : OPEN;
    if (!this.required) return OPEN;
    const anon = this.anonymous;
    const hasAnon = anon.subscribe.length + anon.publish.length + anon.request.length > 0;
    return { identity: null, grants: anon, awaitingAuth: !hasAnon };
  }

  async #verify(verifier: TokenVerifier, token: string): Promise<Admitted | Refusal> {
    try {
      const identity = await verifier.verify(token);
      return { identity, grants: identity.grants, awaitingAuth: false };
    } catch (e) {
      this.counters.authFailures++;
      if (e instanceof TokenError) return { status: 401, code: e.code, message: e.message };
      return { status: 401, code: ErrorCode.UNAUTHORIZED, message: "token could not be verified" };
    }
  }

  opened(ip: string): void {
    this.#open++;
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
  }

  closed(ip: string): void {
    this.#open--;
    const n = (this.#perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, n);
  }
}

export function isRefusal(x: Admitted | Refusal): x is Refusal {
  return "status" in x;
}
