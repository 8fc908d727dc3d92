/**
 * Device fleets: presence, last will, and commands delivered at least once.
 *
 * A command is queued per device (bounded, with an expiry), sent when the
 * device is connected, resent every `redeliverMs` until the device acks it
 * by `cid`, and resent again after a reconnect. The sender's promise settles
 * with the device's ack or rejects when the command expires. A device may
 * see a command more than once and should act on each `cid` once.
 *
 * In a cluster (`cluster` given), the set of online devices and the command
 * queue live in the cluster instead (see src/cluster): a command is queued
 * there, taken by the node the device is connected to, and its ack settles
 * the promise on the node that issued it. A node reports a device offline
 * (and runs its will) only if no newer connection of it claimed it since.
 * @module
 */
import { CloseCode, ErrorCode, NORMAL_CLOSES } from "../protocol/codes.ts";
import { topicError } from "../protocol/topic.ts";
import { ProtocolError, TickgateError, TimeoutError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { ClusterServices, QueuedCommand } from "./cluster.ts";
import type { Options } from "./options.ts";
import type { Session } from "./session.ts";

interface Pending {
  cid: string;
  name: string;
  data: unknown;
  expiresAt: number;
  lastSent: number;
  resolve(data: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
  /** Taken from the cluster's queue: it stays there until acked, so a shutdown does not refuse it. */
  taken?: true;
}

export interface DeviceHooks {
  /** Publishes as the server (presence, wills, logs). */
  publish(topic: string, data: unknown, key?: string): void;
  sendCommand(s: Session, frame: { t: "command"; cid: string; name: string; data: unknown; ts: number }): void;
  log?: Logger;
}

export const presenceTopic = (id: string) => `devices.${id}.presence`;

/** A device id is one topic token (at most 128 characters), since it names topics like `devices.<id>.log`. */
export function isDeviceId(id: string): boolean {
  return id.length <= 128 && !id.includes(".") && topicError(id, false) === null;
}
export const logTopic = (id: string) => `devices.${id}.log`;

export class DeviceRegistry {
  readonly #online = new Map<string, Session>();
  readonly #queues = new Map<string, Pending[]>();
  /** Devices attached before their hello: announced when it comes or the window ends. */
  readonly #held = new Map<Session, ReturnType<typeof setTimeout>>();
  readonly #announced = new WeakSet<Session>();
  #seq = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly counters = { commandsSent: 0, commandsAcked: 0, commandsRefused: 0, commandsExpired: 0, redeliveries: 0 };

  constructor(
    readonly options: Options["devices"],
    readonly hooks: DeviceHooks,
    readonly cluster?: ClusterServices,
  ) {}

  /** Online devices: in the whole cluster when there is one. */
  get online(): number {
    return this.cluster ? this.cluster.devicesOnline() : this.#online.size;
  }

  /** Devices connected to this node. */
  get localOnline(): number {
    return this.#online.size;
  }

  isOnline(id: string): boolean {
    return this.#online.has(id) || (this.cluster?.isOnline(id) ?? false);
  }

  start(): void {
    this.#timer = setInterval(() => this.#redeliver(), Math.max(50, Math.floor(this.options.redeliverMs / 2)));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Stops redelivery; commands still waiting are rejected with SHUTTING_DOWN. */
  stop(): void {
    clearInterval(this.#timer);
    for (const t of this.#held.values()) clearTimeout(t);
    this.#held.clear();
    for (const q of this.#queues.values())
      for (const p of q) {
        clearTimeout(p.timer);
        if (!p.taken) p.reject(new ProtocolError(ErrorCode.SHUTTING_DOWN, "server is shutting down; the command was not acknowledged"));
      }
    this.#queues.clear();
  }

  /**
   * A device connection is ready (authenticated, id known): queued commands
   * go out now; presence waits for the hello (see the module comment).
   */
  attach(s: Session): void {
    const id = s.deviceId!;
    this.#online.set(id, s);
    this.cluster?.claim(id, s.id);
    const w = this.options.helloWindowMs;
    if (s.helloed || w === 0) this.announce(s);
    else {
      const t = setTimeout(() => this.announce(s), w);
      (t as { unref?: () => void }).unref?.();
      this.#held.set(s, t);
    }
    for (const p of this.#queues.get(id) ?? []) this.#send(s, p);
  }

  /**
   * Publishes the device's `online` presence with its meta: once per
   * connect, or again for a hello that comes after the window.
   */
  announce(s: Session): void {
    const id = s.deviceId!;
    if (this.#online.get(id) !== s) return;
    const held = this.#held.get(s);
    if (held !== undefined) {
      clearTimeout(held);
      this.#held.delete(s);
    }
    this.#announced.add(s);
    const kind = s.meta.kind;
    this.hooks.log?.info({ event: "device_online", device: id, kind, session: s.id, ip: s.remoteAddress }, "device online");
    if (this.options.presence) {
      const online: Record<string, unknown> = { state: "online", ts: Date.now(), session: s.id };
      if (Object.keys(s.meta).length > 0) online.meta = s.meta; // e.g. the device's kind and firmware, from hello
      this.hooks.publish(presenceTopic(id), online, id);
    }
  }

  /**
   * A connection closed. `will` (the connection's last will, when it has
   * one to give) runs unless the device is back on a newer connection.
   */
  detach(s: Session, code: number, reason: string, will?: () => void): void {
    const id = s.deviceId;
    if (id === undefined || this.#online.get(id) !== s) {
      // A device connection replaced by a newer one here has no will left to give: the device is back.
      if (!(id !== undefined && s.deviceAttached && this.#online.has(id))) will?.();
      return;
    }
    this.#online.delete(id);
    const held = this.#held.get(s);
    clearTimeout(held);
    this.#held.delete(s);
    const abnormal = !NORMAL_CLOSES.has(code);
    this.hooks.log?.info({ event: "device_offline", device: id, kind: s.meta.kind, session: s.id, ip: s.remoteAddress, code, abnormal }, "device offline");
    // Gone within its hello window: it was never announced online, so no offline either.
    const announced = this.#announced.has(s);
    const offline = (): void => {
      if (announced && this.options.presence) this.hooks.publish(presenceTopic(id), { state: "offline", reason: abnormal ? "abnormal" : "normal", code, detail: reason.slice(0, 120), ts: Date.now() }, id);
      will?.();
    };
    if (!this.cluster) return offline();
    // Commands taken for this connection stay queued in the cluster for the next one.
    for (const p of this.#queues.get(id) ?? []) clearTimeout(p.timer);
    this.#queues.delete(id);
    this.cluster.release(id, s.id).then((owned) => owned && offline(), offline);
  }

  /** Queues a command; resolves with the device's ack data. */
  command(device: string, name: string, data: unknown, ttlMs = this.options.commandTtlMs): Promise<unknown> {
    if (this.cluster) return this.cluster.command(device, name, data ?? null, ttlMs, this.options.maxQueued);
    const q = this.#queues.get(device) ?? [];
    if (q.length >= this.options.maxQueued) {
      return Promise.reject(new ProtocolError(ErrorCode.DEVICE_QUEUE_FULL, `device '${device}' has ${q.length} commands queued already`));
    }
    return new Promise((resolve, reject) => {
      const cid = `${Date.now().toString(36)}-${(++this.#seq).toString(36)}`;
      const p: Pending = {
        cid,
        name,
        data: data ?? null,
        expiresAt: Date.now() + ttlMs,
        lastSent: 0,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#remove(device, cid);
          this.counters.commandsExpired++;
          reject(new TimeoutError(`device '${device}' did not acknowledge '${name}' within ${ttlMs} ms`).withCode(ErrorCode.COMMAND_TIMEOUT));
        }, ttlMs),
      };
      q.push(p);
      this.#queues.set(device, q);
      const s = this.#online.get(device);
      if (s) this.#send(s, p);
    });
  }

  /** Closes the device's connection `session` (going away, so no will): the cluster counted it lost. */
  drop(device: string, session: string): void {
    const s = this.#online.get(device);
    if (s?.id === session) s.socket?.close(CloseCode.GOING_AWAY, "this node lost the device in the cluster; reconnect");
  }

  /** A command from the cluster's queue, for a device connected here; sent now, resent until acked. */
  take(device: string, cmd: QueuedCommand): void {
    const s = this.#online.get(device);
    const ttl = cmd.expiresAt - Date.now();
    if (!s || ttl <= 0) return;
    const q = this.#queues.get(device) ?? [];
    if (q.some((p) => p.cid === cmd.cid)) return;
    const p: Pending = {
      cid: cmd.cid,
      name: cmd.name,
      data: cmd.data,
      expiresAt: cmd.expiresAt,
      lastSent: 0,
      taken: true,
      resolve: (data) => cmd.settle({ data }),
      reject: (e) => cmd.settle({ code: (e as TickgateError).code ?? ErrorCode.HANDLER_ERROR, message: e.message }),
      // The issuer times its own promise out; here the command is only forgotten.
      timer: setTimeout(() => {
        if (this.#remove(device, cmd.cid)) this.counters.commandsExpired++;
      }, ttl),
    };
    q.push(p);
    this.#queues.set(device, q);
    this.#send(s, p);
  }

  /** The device acknowledged `cid`; later duplicates of the ack are ignored. */
  ack(s: Session, cid: string, data: unknown): boolean {
    const id = s.deviceId;
    if (id === undefined) return false;
    const p = this.#remove(id, cid);
    if (!p) return false;
    clearTimeout(p.timer);
    this.counters.commandsAcked++;
    p.resolve(data ?? null);
    return true;
  }

  /** The device refused `cid`: the sender's promise rejects with the device's code. */
  nack(s: Session, cid: string, code: string, message: string): boolean {
    const id = s.deviceId;
    if (id === undefined) return false;
    const p = this.#remove(id, cid);
    if (!p) return false;
    clearTimeout(p.timer);
    this.counters.commandsRefused++;
    p.reject(new TickgateError(code, message));
    return true;
  }

  #remove(device: string, cid: string): Pending | undefined {
    const q = this.#queues.get(device);
    if (!q) return undefined;
    const i = q.findIndex((p) => p.cid === cid);
    if (i < 0) return undefined;
    const [p] = q.splice(i, 1);
    if (q.length === 0) this.#queues.delete(device);
    return p;
  }

  #send(s: Session, p: Pending): void {
    if (p.lastSent > 0) this.counters.redeliveries++;
    else this.counters.commandsSent++;
    p.lastSent = Date.now();
    this.hooks.sendCommand(s, { t: "command", cid: p.cid, name: p.name, data: p.data, ts: p.lastSent });
  }

  #redeliver(): void {
    const now = Date.now();
    for (const [id, q] of this.#queues) {
      const s = this.#online.get(id);
      if (!s) continue;
      for (const p of q) if (now - p.lastSent >= this.options.redeliverMs) this.#send(s, p);
    }
  }
}
