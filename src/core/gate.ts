/**
 * The one place where a caller's action is allowed or refused. A caller
 * (`caller.ts`) is whoever acts: a WebSocket or SSE connection (its
 * session), or one HTTP request (its token's identity and address). Each
 * operation does, in this order, the grant check, the rate limit and the
 * audit line of a refusal, then calls the engine; every entry point (the
 * frame dispatcher, `POST /api/publish`, `/api/request`, `/api/command`,
 * SSE) calls these, so a check added here holds on every path. Runs once
 * per subscribe / publish / request / command, never per delivery.
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import type { Filter } from "../protocol/filter.ts";
import type { AckFrame, Payload, RecoverPosition } from "../protocol/frames.ts";
import { topicError } from "../protocol/topic.ts";
import type { AdmissionCounters } from "./auth/admission.ts";
import { covers, mayPublish, mayRequest, maySubscribe } from "./auth/grants.ts";
import type { Broker } from "./broker.ts";
import type { DeviceRegistry } from "./devices.ts";
import { ProtocolError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Options } from "./options.ts";
import type { RequestRouter } from "./requests.ts";
import type { Session } from "./session.ts";
import { RateBuckets, TokenBucket, type Caller, type RequestAuth } from "./caller.ts";
import { creatorKey } from "./topic-lifecycle.ts";

export type { Caller, RequestAuth };

export interface GateDeps {
  options: Options;
  broker: Broker;
  requests: RequestRouter;
  devices: DeviceRegistry;
  counters: AdmissionCounters;
  log: Logger;
}

/** HTTP callers keyed by token subject or address; bounded, a flood of keys resets it. */
const MAX_HTTP_KEYS = 10_000;
/** Verdicts on declared topics, cached per topic; bounded like the HTTP keys. */
const MAX_DECLARED_CACHE = 10_000;

export class Gate {
  readonly #d: GateDeps;
  readonly #httpRates = new Map<string, RateBuckets>();
  /** Topic or pattern → whether the declared topics cover it (only with the `topics` option). */
  readonly #declared = new Map<string, boolean>();

  constructor(deps: GateDeps) {
    this.#d = deps;
  }

  /**
   * Checks a subscription and prepares it, then calls `ack` with the
   * recovery verdict and joins in the same turn (backlog first, then live),
   * so nothing can fall between the ack and the first live frame.
   */
  subscribe(s: Session, topic: string, opts: { recover?: RecoverPosition | undefined; filter?: Filter | undefined }, ack: (a: Pick<AckFrame, "seq" | "epoch" | "recovery" | "backlog">) => void): void | Promise<void> {
    this.checkSubscribe(s, topic);
    const b = this.#d.broker;
    const join = () => {
      if (s.closed) return;
      const plan = b.prepareSubscribe(s, topic, opts.recover, opts.filter);
      ack(plan.ack);
      b.join(s, plan);
    };
    // A cluster bus may first have to bring this node up to date on the topic
    // (LocalBus never does: the subscription stays synchronous).
    const warming = topicError(topic, true) === null ? b.bus.warm?.(topic) : undefined;
    if (warming) return warming.then(join);
    join();
  }

  /** The grant check of a subscription alone (audited, FORBIDDEN), for a path that must refuse before it opens (SSE). */
  checkSubscribe(c: Caller, topic: string): void {
    if (topicError(topic, true) !== null) return;
    if (!maySubscribe(c.grants, topic)) this.forbidden(c, "subscribe", topic);
    this.checkDeclared(topic);
  }

  /**
   * With declared topics (option `topics`), refuses a topic or pattern that
   * no declared entry covers with UNKNOWN_TOPIC, so a misspelt subscription
   * is an error rather than silence. Cached per topic: O(1) after the first.
   */
  checkDeclared(topic: string): void {
    const list = this.#d.options.topics;
    if (list.length === 0) return;
    let ok = this.#declared.get(topic);
    if (ok === undefined) {
      ok = list.some((d) => covers(d, topic));
      if (this.#declared.size >= MAX_DECLARED_CACHE) this.#declared.clear();
      this.#declared.set(topic, ok);
    }
    if (!ok) throw new ProtocolError(ErrorCode.UNKNOWN_TOPIC, `'${topic.slice(0, 64)}' is not a topic this server serves (the welcome lists them)`, { topic });
  }

  /** A caller's publication: grant, rate limit, then the topic's policy and the bus. Resolves to its seq. */
  publish(c: Caller, topic: string, payload: Payload, key?: string, tags?: readonly string[]): number | Promise<number> {
    // A topic the broker holds was checked when it was created: no token walk per publication.
    if (this.#d.broker.topics.has(topic) || topicError(topic, false) === null) {
      if (!mayPublish(c.grants, topic)) this.forbidden(c, "publish", topic);
      this.checkDeclared(topic);
    }
    this.limit(c, topic);
    return this.#d.broker.publish(topic, payload, key, "client", tags, { identity: creatorKey(c.identity?.sub, c.remoteAddress), connection: c.topicCount });
  }

  /** A request to a registered handler, after the grant check. */
  request(c: Caller, method: string, data: unknown): Promise<unknown> {
    if (!mayRequest(c.grants, method)) this.forbidden(c, "request", method);
    return this.#d.requests.call(method, data, { session: c.sessionId ?? "http", client: c.client, remoteAddress: c.remoteAddress, who: c.identity?.sub, device: c.deviceId });
  }

  /** A command to a device: publishing to `devices.<id>.commands` must be granted, and it spends the publish allowance. */
  command(c: Caller, device: string, name: string, data: unknown, ttlMs?: number): Promise<unknown> {
    const target = `devices.${device}.commands`;
    if (!mayPublish(c.grants, target)) this.forbidden(c, "command", target);
    this.limit(c, target);
    return this.#d.devices.command(device, name, data, ttlMs);
  }

  /** Spends one unit of the caller's publish allowance for `topic`, or refuses with RATE_LIMITED (logged). */
  limit(c: Caller, topic: string): void {
    const policy = this.#d.broker.policies.for(topic);
    const r = c.rates;
    let bucket: TokenBucket;
    // A topic whose policy has its own rate uses its own bucket instead of the connection-wide one.
    if (policy.publishRate > 0) {
      r.perPolicy ??= new Map();
      bucket = r.perPolicy.get(policy) ?? new TokenBucket(Math.max(1, Math.ceil(policy.publishRate)), policy.publishRate);
      r.perPolicy.set(policy, bucket);
    } else {
      const l = this.#d.options.limits;
      bucket = r.publish ??= new TokenBucket(l.publishBurst, l.publishPerSecond);
    }
    if (bucket.take()) return;
    this.#d.counters.rateLimited++;
    this.#d.log.warn({ event: "limit", code: ErrorCode.RATE_LIMITED, via: c.via, who: c.identity?.sub ?? "anonymous", session: c.sessionId, ip: c.remoteAddress, topic }, "publish rate limit hit");
    throw new ProtocolError(ErrorCode.RATE_LIMITED, `publishing too fast on '${topic}'`);
  }

  /** Audits a refusal and throws FORBIDDEN. */
  forbidden(c: Caller, action: string, target: string): never {
    this.audit(c, action, target);
    throw new ProtocolError(ErrorCode.FORBIDDEN, `not allowed to ${action} '${target}'`);
  }

  /** The audit line of a refused action: who, from where, what. */
  audit(c: Caller, action: string, target: string): void {
    this.#d.counters.forbidden++;
    this.#d.log.warn({ event: "forbidden", via: c.via, who: c.identity?.sub ?? "anonymous", session: c.sessionId, ip: c.remoteAddress, action, target }, "permission denied");
  }

  /**
   * The caller for one HTTP request. Its allowances are kept per token
   * subject, or per address without a token, so HTTP is no way around them.
   */
  httpCaller(auth: RequestAuth, ip: string): Caller {
    const who = auth.identity?.sub;
    const key = who === undefined ? `ip:${ip}` : `sub:${who}`;
    let rates = this.#httpRates.get(key);
    if (!rates) {
      if (this.#httpRates.size >= MAX_HTTP_KEYS) this.#httpRates.clear();
      this.#httpRates.set(key, (rates = new RateBuckets()));
    }
    return { identity: auth.identity, grants: auth.grants, remoteAddress: ip, client: auth.identity?.client ?? "api", sessionId: undefined, rates, via: "http" };
  }
}
