/**
 * What each client frame does. Permission checks happen here, once per
 * subscribe / publish / request, never per delivery.
 * @module
 */
import { CloseCode, ErrorCode } from "../protocol/codes.ts";
import type { Decoded } from "../protocol/codec.ts";
import type { ClientFrame, FrameId } from "../protocol/frames.ts";
import { topicError } from "../protocol/topic.ts";
import { mayPublish, mayRequest, maySubscribe } from "./auth/grants.ts";
import { TokenError } from "./auth/tokens.ts";
import { isDeviceId, logTopic } from "./devices.ts";
import { ProtocolError } from "./errors.ts";
import { RESERVED } from "./requests.ts";
import type { TickgateServer } from "./server.ts";
import { TokenBucket, type Session } from "./session.ts";

type Frame<T extends ClientFrame["t"]> = Extract<ClientFrame, { t: T }>;

export class Dispatcher {
  constructor(readonly server: TickgateServer) {}

  dispatch(s: Session, d: Decoded): void {
    const f = d.frame;
    if (s.awaitingAuth && f.t !== "auth") {
      throw new ProtocolError(ErrorCode.UNAUTHORIZED, "authenticate first: send {t:'auth', token}");
    }
    switch (f.t) {
      case "sub":
        return this.#subscribe(s, f);
      case "unsub":
        this.server.broker.unsubscribe(s, f.topic, f.filter);
        return this.#ack(s, f.id);
      case "pub":
        return this.#publish(s, f, d);
      case "ping":
        return this.server.send(s, f.id === undefined ? { t: "pong", ts: Date.now() } : { t: "pong", id: f.id, ts: Date.now() });
      case "stats": {
        // With auth on, only admins see the whole server; others get the public summary.
        const full = !this.server.admission.required || s.grants.admin;
        const data = { ...(full ? this.server.stats() : this.server.publicStats()), session: sessionStats(s) };
        return this.server.send(s, f.id === undefined ? { t: "stats", data } : { t: "stats", id: f.id, data });
      }
      case "req":
        return this.#request(s, f);
      case "hello":
        return this.#hello(s, f);
      case "auth":
        return this.#auth(s, f);
      case "command":
        return this.#command(s, f);
      case "command_ack":
        if (s.deviceId === undefined) throw new ProtocolError(ErrorCode.NOT_A_DEVICE, "only a device connection acknowledges commands");
        this.server.devices.ack(s, f.cid, f.data);
        return this.#ack(s, f.id);
      case "command_nack":
        if (s.deviceId === undefined) throw new ProtocolError(ErrorCode.NOT_A_DEVICE, "only a device connection refuses commands");
        if (RESERVED.has(f.code)) throw new ProtocolError(ErrorCode.INVALID_FRAME, `command_nack: code '${f.code}' is reserved for the server; use your own`);
        this.server.devices.nack(s, f.cid, f.code, f.message);
        return this.#ack(s, f.id);
      case "log":
        if (s.deviceId === undefined) throw new ProtocolError(ErrorCode.NOT_A_DEVICE, "only a device connection sends log frames");
        this.#rateLimit(s, logTopic(s.deviceId));
        this.server.publish(logTopic(s.deviceId), { level: f.level, message: f.message, ts: Date.now() });
        return this.#ack(s, f.id);
    }
  }

  #ack(s: Session, id: FrameId | undefined): void {
    if (id !== undefined) this.server.send(s, { t: "ack", id });
  }

  #forbidden(s: Session, action: string, target: string): never {
    this.server.audit(s, action, target);
    throw new ProtocolError(ErrorCode.FORBIDDEN, `not allowed to ${action} '${target}'`);
  }

  #subscribe(s: Session, f: Frame<"sub">): void {
    if (topicError(f.topic, true) === null && !maySubscribe(s.grants, f.topic)) this.#forbidden(s, "subscribe", f.topic);
    // A cluster bus may first have to bring this node up to date on the topic.
    const warming = topicError(f.topic, true) === null ? this.server.broker.bus.warm?.(f.topic) : undefined;
    if (warming) {
      warming.then(
        () => {
          if (s.closed) return;
          try {
            this.#join(s, f);
          } catch (e) {
            this.server.failWith(s, e, f.id);
          }
        },
        (e) => this.server.failWith(s, e, f.id),
      );
      return;
    }
    this.#join(s, f);
  }

  #join(s: Session, f: Frame<"sub">): void {
    const plan = this.server.broker.prepareSubscribe(s, f.topic, f.recover, f.filter);
    // The ack (with the recovery verdict) goes first, then the backlog and live frames.
    if (f.id !== undefined) this.server.send(s, { t: "ack", id: f.id, ...plan.ack });
    this.server.broker.join(s, plan);
  }

  #publish(s: Session, f: Frame<"pub">, d: Decoded): void {
    if (topicError(f.topic, false) === null && !mayPublish(s.grants, f.topic)) this.#forbidden(s, "publish", f.topic);
    this.#rateLimit(s, f.topic);
    const seq = this.server.broker.publish(f.topic, d.payload!, f.key, "client", f.tags);
    if (f.id === undefined) return;
    const id = f.id;
    if (typeof seq === "number") this.server.send(s, { t: "ack", id, seq });
    else seq.then((n) => this.server.send(s, { t: "ack", id, seq: n }), (e) => this.server.failWith(s, e, id));
  }

  /** Token buckets per connection, and per topic policy with its own `publishRate`. */
  #rateLimit(s: Session, topic: string): void {
    const o = this.server.options;
    const policy = this.server.broker.policies.for(topic);
    let bucket: TokenBucket;
    if (policy.publishRate > 0) {
      s.policyBuckets ??= new Map();
      bucket = s.policyBuckets.get(policy) ?? new TokenBucket(Math.max(1, Math.ceil(policy.publishRate)), policy.publishRate);
      s.policyBuckets.set(policy, bucket);
    } else bucket = s.publishBucket ??= new TokenBucket(o.limits.publishBurst, o.limits.publishPerSecond);
    if (!bucket.take()) {
      this.server.admission.counters.rateLimited++;
      this.server.log.warn({ event: "limit", code: ErrorCode.RATE_LIMITED, session: s.id, ip: s.remoteAddress, topic }, "publish rate limit hit");
      throw new ProtocolError(ErrorCode.RATE_LIMITED, `publishing too fast on '${topic}'`);
    }
  }

  #request(s: Session, f: Frame<"req">): void {
    if (!mayRequest(s.grants, f.method)) this.#forbidden(s, "request", f.method);
    const id = f.id;
    this.server.requests.call(f.method, f.data, { session: s.id, client: s.client, remoteAddress: s.remoteAddress, who: s.identity?.sub, device: s.deviceId }).then(
      (data) => this.server.send(s, { t: "res", id, data: data ?? null }),
      (e) => this.server.failWith(s, e, id),
    );
  }

  #hello(s: Session, f: Frame<"hello">): void {
    // Checked before anything is applied, so a refused hello changes nothing.
    if (f.will) {
      const t = f.will.topic;
      if (topicError(t, false) !== null) throw new ProtocolError(ErrorCode.BAD_TOPIC, `will: bad topic '${t.slice(0, 64)}'`);
      if (!mayPublish(s.grants, t) || this.server.broker.policies.for(t).publish === "server") this.#forbidden(s, "set a will on", t);
    }
    // A token's client type is authoritative; hello cannot change it.
    if (!s.identity?.client && f.client !== s.client) this.server.reclassify(s, f.client);
    if (f.meta) {
      s.meta = f.meta;
      // A device known from its token came online before its hello: announce its meta now.
      if (s.deviceAttached) this.server.devices.announce(s);
    }
    if (f.will) s.will = { topic: f.will.topic, data: f.will.data ?? null, key: f.will.key };
    if (s.client === "device" && s.deviceId === undefined) {
      // With auth required, only the token's subject names a device: a
      // tokenless connection must not claim another device's commands.
      const id = s.identity?.sub ?? (this.server.admission.required ? undefined : f.device);
      if (id !== undefined && isDeviceId(id)) {
        s.deviceId = id;
        this.server.attachDevice(s);
      }
    }
    this.#ack(s, f.id);
  }

  #auth(s: Session, f: Frame<"auth">): void {
    const verifier = this.server.admission.verifier;
    if (!verifier) return this.#ack(s, f.id);
    verifier.verify(f.token).then(
      (identity) => {
        if (s.closed) return;
        if (s.identity && s.identity.sub !== identity.sub) {
          return this.server.fail(s, ErrorCode.FORBIDDEN, "a refreshed token must have the same subject", f.id);
        }
        const first = s.awaitingAuth;
        s.identity = identity;
        s.grants = identity.grants;
        s.awaitingAuth = false;
        if (identity.client && identity.client !== s.client) this.server.reclassify(s, identity.client);
        if (s.client === "device" && s.deviceId === undefined && isDeviceId(identity.sub)) s.deviceId = identity.sub;
        this.#dropUngranted(s);
        // A will the new grants no longer allow goes too.
        if (s.will && !mayPublish(s.grants, s.will.topic)) s.will = undefined;
        this.server.log.info({ event: first ? "auth" : "auth_refresh", session: s.id, who: identity.sub, ip: s.remoteAddress }, "authenticated");
        this.#ack(s, f.id);
        this.server.authenticated(s);
      },
      (e) => {
        if (s.closed) return;
        this.server.admission.counters.authFailures++;
        const message = e instanceof TokenError ? e.message : "token could not be verified";
        this.server.log.warn({ event: "auth_failed", via: "frame", session: s.id, ip: s.remoteAddress, reason: message }, "token refused");
        const code = e instanceof TokenError && e.reason === "expired" ? ErrorCode.TOKEN_EXPIRED : ErrorCode.UNAUTHORIZED;
        this.server.fail(s, code, message, f.id);
        s.socket?.close(CloseCode.AUTH_FAILED, "token refused");
      },
    );
  }

  /** After a refresh narrowed the grants, subscriptions no longer covered end. */
  #dropUngranted(s: Session): void {
    for (const ch of [...s.subs.values()]) {
      if (maySubscribe(s.grants, ch.base)) continue;
      this.server.broker.leave(s, ch);
      this.server.audit(s, "keep subscription", ch.base);
      // Sent directly: the server ended these, so they do not spend the error budget.
      this.server.send(s, { t: "error", code: ErrorCode.FORBIDDEN, message: `subscription '${ch.base}' is not covered by the new token`, details: { topic: ch.base } });
    }
  }

  #command(s: Session, f: Frame<"command">): void {
    const target = `devices.${f.device}.commands`;
    if (!mayPublish(s.grants, target)) this.#forbidden(s, "command", target);
    this.#rateLimit(s, target);
    const id = f.id;
    this.server.command(f.device, f.name, f.data, f.ttlMs === undefined ? {} : { ttlMs: f.ttlMs }).then(
      (data) => this.server.send(s, { t: "res", id, data: { acked: true, data } }),
      (e) => this.server.failWith(s, e, id),
    );
  }
}

function sessionStats(s: Session) {
  return {
    id: s.id,
    client: s.client,
    who: s.identity?.sub,
    device: s.deviceId,
    subscriptions: s.subs.size,
    messagesIn: s.messagesIn,
    dropped: s.dropped,
    conflated: s.conflated,
    connectedAt: s.connectedAt,
    meta: s.meta,
  };
}
