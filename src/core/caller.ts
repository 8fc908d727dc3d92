/**
 * Who acts through the gate (`gate.ts`): a {@link Caller} has an identity,
 * grants, an address and allowances. A connection's session is one; an HTTP
 * request gets one per call. Also the allowances themselves: a refilling
 * token bucket, one `take()` per frame that spends it; no timers.
 * @module
 */
import type { ClientType } from "../protocol/frames.ts";
import type { Grants } from "./auth/grants.ts";
import type { Identity } from "./auth/tokens.ts";
import type { Policy } from "./options.ts";
import type { TopicCount } from "./topic.ts";

/** Whoever acts through the gate. A `Session` is one; HTTP requests get one from `Gate.httpCaller`. */
export interface Caller {
  readonly identity: Identity | null;
  readonly grants: Grants;
  readonly remoteAddress: string;
  readonly client: ClientType;
  /** The connection's session id; undefined for an HTTP request. */
  readonly sessionId: string | undefined;
  readonly deviceId?: string | undefined;
  readonly rates: RateBuckets;
  /** A connection's count of live topics it created; absent for an HTTP request. */
  readonly topicCount?: TopicCount;
  /** The path the call came by, for the log: `ws`, `sse` or `http`. */
  readonly via: "ws" | "sse" | "http";
}

/** What an HTTP request may do, from its bearer token. */
export interface RequestAuth {
  identity: Identity | null;
  grants: Grants;
}

/** A refilling allowance; empty means the caller must wait (or, for errors, is abusive). */
export class TokenBucket {
  #tokens: number;
  #last: number;
  constructor(
    readonly burst: number,
    readonly perSecond: number,
  ) {
    this.#tokens = burst;
    this.#last = Date.now();
  }
  take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.perSecond);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** A caller's publish allowances: connection-wide, and per policy with its own `publishRate`. Created on first use. */
export class RateBuckets {
  publish: TokenBucket | null = null;
  perPolicy: Map<Policy, TokenBucket> | null = null;
}
