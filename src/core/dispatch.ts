/**
 * What each client frame does: it maps a decoded frame to a gate call
 * (subscribe, publish, request, command) or to connection state (hello,
 * auth, acks). Checks live in the gate, not here. Once per frame, never per
 * delivery.
 * @module
 */
import { CloseCode, ErrorCode, isReserved } from "../protocol/codes.ts";
import type { Decoded } from "../protocol/codec.ts";
import type { ClientFrame, ClientType } from "../protocol/frames.ts";
import { topicError } from "../protocol/topic.ts";
import type { Admission } from "./auth/admission.ts";
import { mayPublish, maySubscribe } from "./auth/grants.ts";
import { TokenError, type Identity } from "./auth/tokens.ts";
import type { Broker } from "./broker.ts";
import { isDeviceId, logTopic, type DeviceRegistry } from "./devices.ts";
import { ProtocolError } from "./errors.ts";
import type { Gate } from "./gate.ts";
import type { Logger } from "./log.ts";
import type { Replies } from "./replies.ts";
import type { Session } from "./session.ts";

type Frame<T extends ClientFrame["t"]> = Extract<ClientFrame, { t: T }>;

/**
 * Frames a connection may send while its token is being checked; they wait,
 * in order. More than this is a client not waiting for its `auth` ack.
 */
export const MAX_HELD_FRAMES = 256;

/** What the dispatcher works with; the connection host hands these in. */
export interface DispatchDeps {
  gate: Gate;
  replies: Replies;
  broker: Broker;
  devices: DeviceRegistry;
  admission: Admission;
  log: Logger;
  /** The `stats` frame's data: the whole server, or the public summary. */
  stats(full: boolean): object;
  /** Moves a session between client-type counters. */
  reclassify(s: Session, client: ClientType): void;
  /** Announces a device once per connection. */
  attachDevice(s: Session): void;
  /** The connection may act now: expiry timer, device presence. */
  authenticated(s: Session): void;
}

export class Dispatcher {
  readonly #d: DispatchDeps;
  /**
   * Sessions with an `auth` being verified, and the frames that came after
   * it: verification is asynchronous, and a later frame must not overtake
   * it (nor a later `auth` bind its identity first).
   */
  readonly #held = new WeakMap<Session, Decoded[]>();
  constructor(deps: DispatchDeps) {
    this.#d = deps;
  }

  /** Handles a frame now, or after the pending `auth` ahead of it. */
  dispatch(s: Session, d: Decoded): void {
    const held = this.#held.get(s);
    if (held === undefined) return this.#dispatch(s, d);
    if (held.length >= MAX_HELD_FRAMES) {
      return this.#d.replies.fail(s, ErrorCode.RATE_LIMITED, `more than ${MAX_HELD_FRAMES} frames sent while a token is being checked; wait for the auth ack`, d.frame.id);
    }
    held.push(d);
  }

  /** The pending `auth` settled: handles the frames that waited for it, in order, until another `auth` holds them again. */
  #release(s: Session): void {
    const held = this.#held.get(s) ?? [];
    this.#held.delete(s);
    for (let i = 0; i < held.length; i++) {
      if (s.closed) return;
      const next = this.#held.get(s);
      if (next !== undefined) {
        next.push(...held.slice(i));
        return;
      }
      const d = held[i]!;
      try {
        this.#dispatch(s, d);
      } catch (e) {
        this.#d.replies.failWith(s, e, d.frame.id);
      }
    }
  }

  #dispatch(s: Session, d: Decoded): void {
    const f = d.frame;
    const { gate, replies } = this.#d;
    if (s.awaitingAuth && f.t !== "auth") {
      throw new ProtocolError(ErrorCode.UNAUTHORIZED, "authenticate first: send {t:'auth', token}");
    }
    switch (f.t) {
      case "sub": {
        const r = gate.subscribe(s, f.topic, { recover: f.recover, filter: f.filter }, (ack) => {
          // The ack (with the recovery verdict) goes first, then the backlog and live frames.
          if (f.id !== undefined) replies.send(s, { t: "ack", id: f.id, ...ack });
        });
        if (r) r.catch((e) => replies.failWith(s, e, f.id));
        return;
      }
      case "unsub":
        this.#d.broker.unsubscribe(s, f.topic, f.filter);
        return replies.ack(s, f.id);
      case "pub":
        return this.#publish(s, f, d);
      case "ping":
        return replies.send(s, f.id === undefined ? { t: "pong", ts: Date.now() } : { t: "pong", id: f.id, ts: Date.now() });
      case "stats": {
        // With auth on, only admins see the whole server; others get the public summary.
        const data = { ...this.#d.stats(!this.#d.admission.required || s.grants.admin), session: sessionStats(s) };
        return replies.send(s, f.id === undefined ? { t: "stats", data } : { t: "stats", id: f.id, data });
      }
      case "req": {
        const id = f.id;
        gate.request(s, f.method, f.data).then(
          (data) => replies.send(s, { t: "res", id, data: data ?? null }),
          (e) => replies.failWith(s, e, id),
        );
        return;
      }
      case "hello":
        return this.#hello(s, f);
      case "auth":
        return this.#auth(s, f);
      case "command": {
        const id = f.id;
        gate.command(s, f.device, f.name, f.data, f.ttlMs).then(
          (data) => replies.send(s, { t: "res", id, data: { acked: true, data } }),
          (e) => replies.failWith(s, e, id),
        );
        return;
      }
      case "command_ack":
        if (s.deviceId === undefined) throw new ProtocolError(ErrorCode.NOT_A_DEVICE, "only a device connection acknowledges commands");
        this.#d.devices.ack(s, f.cid, f.data);
        return replies.ack(s, f.id);
      case "command_nack":
        if (s.deviceId === undefined) throw new ProtocolError(ErrorCode.NOT_A_DEVICE, "only a device connection refuses commands");
        if (isReserved(f.code)) throw new ProtocolError(ErrorCode.INVALID_FRAME, `command_nack: code '${f.code}' is reserved for the server; use your own`);
        this.#d.devices.nack(s, f.cid, f.code, f.message);
        return replies.ack(s, f.id);
      case "log":
        if (s.deviceId === undefined) throw new ProtocolError(ErrorCode.NOT_A_DEVICE, "only a device connection sends log frames");
        gate.limit(s, logTopic(s.deviceId));
        // Contents at debug level only: a device's log may hold anything.
        this.#d.log.debug({ event: "device_log", device: s.deviceId, kind: s.meta.kind, session: s.id, level: f.level, message: f.message }, "device log");
        // Published as the server: a device's log topic is written for it.
        void this.#d.broker.publish(logTopic(s.deviceId), { value: { level: f.level, message: f.message, ts: Date.now() } }, undefined, "server");
        return replies.ack(s, f.id);
    }
  }

  #publish(s: Session, f: Frame<"pub">, d: Decoded): void {
    const seq = this.#d.gate.publish(s, f.topic, d.payload!, f.key, f.tags);
    if (f.id === undefined) return;
    const id = f.id;
    const { replies } = this.#d;
    if (typeof seq === "number") replies.send(s, { t: "ack", id, seq });
    else seq.then((n) => replies.send(s, { t: "ack", id, seq: n }), (e) => replies.failWith(s, e, id));
  }

  #hello(s: Session, f: Frame<"hello">): void {
    // Checked before anything is applied, so a refused hello changes nothing.
    if (f.will) {
      const t = f.will.topic;
      if (topicError(t, false) !== null) throw new ProtocolError(ErrorCode.BAD_TOPIC, `will: bad topic '${t.slice(0, 64)}'`);
      if (!mayPublish(s.grants, t) || this.#d.broker.policies.for(t).publish === "server") this.#d.gate.forbidden(s, "set a will on", t);
    }
    // A token's client type is authoritative; hello cannot change it.
    if (!s.identity?.client && f.client !== s.client) this.#d.reclassify(s, f.client);
    if (f.meta) s.meta = f.meta;
    const first = !s.helloed;
    s.helloed = true;
    // A device known from its token was held for its hello: announce it now,
    // with its meta (once; a later hello only re-announces new meta).
    if (s.deviceAttached && (first || f.meta)) this.#d.devices.announce(s);
    if (f.will) s.will = { topic: f.will.topic, data: f.will.data ?? null, key: f.will.key };
    if (s.client === "device" && s.deviceId === undefined) {
      // With auth required, only the token's subject names a device: a
      // tokenless connection must not claim another device's commands.
      const id = s.identity?.sub ?? (this.#d.admission.required ? undefined : f.device);
      if (id !== undefined && isDeviceId(id)) {
        s.deviceId = id;
        this.#d.attachDevice(s);
      }
    }
    this.#d.replies.ack(s, f.id);
  }

  #auth(s: Session, f: Frame<"auth">): void {
    const { admission, replies, log } = this.#d;
    const verifier = admission.verifier;
    if (!verifier) return replies.ack(s, f.id);
    this.#held.set(s, []);
    verifier.verify(f.token).then(
      (identity) => {
        this.#settled(s, identity, f);
        this.#release(s);
      },
      (e) => {
        if (s.closed) return;
        // Nothing that waited is handled: the connection is being closed.
        this.#held.delete(s);
        admission.counters.authFailures++;
        const known = e instanceof TokenError;
        const message = known ? e.message : "token could not be verified";
        log.warn({ event: "auth_failed", via: "frame", session: s.id, ip: s.remoteAddress, who: s.identity?.sub, reason: message }, "token refused");
        const code = known ? e.code : ErrorCode.UNAUTHORIZED;
        replies.fail(s, code, message, f.id);
        s.socket?.close(CloseCode.AUTH_FAILED, "token refused");
      },
    );
  }

  /** A verified `auth` token: binds it, or refuses a refresh to another subject. */
  #settled(s: Session, identity: Identity, f: Frame<"auth">): void {
    const { admission, replies, log } = this.#d;
    if (s.closed) return;
    if (s.identity && s.identity.sub !== identity.sub) {
      admission.counters.forbidden++;
      log.warn({ event: "forbidden", via: "frame", who: s.identity.sub, session: s.id, ip: s.remoteAddress, action: "refresh to another sub", target: identity.sub }, "refresh refused: another subject");
      return replies.fail(s, ErrorCode.FORBIDDEN, "a refreshed token must have the same subject", f.id);
    }
    const first = s.awaitingAuth;
    s.identity = identity;
    s.grants = identity.grants;
    s.awaitingAuth = false;
    if (identity.client && identity.client !== s.client) this.#d.reclassify(s, identity.client);
    if (s.client === "device" && s.deviceId === undefined && isDeviceId(identity.sub)) s.deviceId = identity.sub;
    this.#dropUngranted(s);
    // A will the new grants no longer allow goes too.
    if (s.will && !mayPublish(s.grants, s.will.topic)) s.will = undefined;
    log.info({ event: first ? "auth" : "auth_refresh", session: s.id, who: identity.sub, ip: s.remoteAddress }, "authenticated");
    replies.ack(s, f.id);
    this.#d.authenticated(s);
  }

  /** After a refresh narrowed the grants, subscriptions no longer covered end. */
  #dropUngranted(s: Session): void {
    for (const ch of [...s.subs.values()]) {
      if (maySubscribe(s.grants, ch.base)) continue;
      this.#d.broker.leave(s, ch);
      this.#d.gate.audit(s, "keep subscription", ch.base);
      // Sent directly: the server ended these, so they do not spend the error budget.
      this.#d.replies.send(s, { t: "error", code: ErrorCode.FORBIDDEN, message: `subscription '${ch.base}' is not covered by the new token`, details: { topic: ch.base } });
    }
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
