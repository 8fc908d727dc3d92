/**
 * Device commands across nodes: the offline queue is a JetStream stream
 * (`TICKGATE_<name>_CMD`, one subject per device), so a queued command
 * survives the restart of any node and reaches the device on whichever
 * node it connects to. Runs per command, never per publication.
 *
 * - Issuing: the node stores the command (`tgcmd.<name>.q.<device>`, its
 *   `cid` as the message id) and keeps the caller's promise.
 * - Taking: the stream republishes each stored command on
 *   `tgcmd.<name>.live.<device>`; every node listens there and hands it to its
 *   device registry, which keeps it only if the device is connected here. A
 *   node whose device (re)connects reads the device's queued commands from
 *   the stream. The registry sends and resends until the device acks.
 * - Settling: the node that got the ack deletes the command from the stream
 *   and sends the ack (or refusal) to the issuing node on
 *   `tgcmd.<name>.ack.<node>`, which settles the promise. The issuer times
 *   the promise out at the command's TTL, as on one node.
 *
 * At least once: a device may get a command again after it moves (the
 * stream deletion and the move can cross); it acts on each `cid` once. An
 * ack sent while the issuing node is disconnected from NATS is lost: the
 * device acted, the issuer's promise times out (COMMAND_TIMEOUT).
 * @module
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { ClusterLocal, QueuedCommand } from "../core/cluster.ts";
import { ProtocolError, TickgateError, TimeoutError } from "../core/errors.ts";
import { packr, unpackr } from "../protocol/codec.ts";
import { ErrorCode } from "../protocol/codes.ts";

interface Stored {
  cid: string;
  name: string;
  data: unknown;
  expiresAt: number;
  /** The issuing node, where the ack goes. */
  node: string;
}

interface Issued {
  resolve(data: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Queued commands are dropped after a day whatever their TTL; each is also checked against its own expiry. */
const MAX_AGE_NS = 24 * 3600 * 1e9;

export class CommandQueue {
  readonly stream: string;
  readonly #prefix: string;
  readonly #issued = new Map<string, Issued>();
  readonly #subs: Subscription[] = [];
  #local: ClusterLocal | null = null;
  #seq = 0;
  /** Commands this node stored in the stream. */
  stored = 0;

  constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly name: string,
    readonly replicas: number,
  ) {
    this.stream = `TICKGATE_${name}_CMD`;
    this.#prefix = `tgcmd.${name}.`;
  }

  async start(local: ClusterLocal): Promise<void> {
    this.#local = local;
    const config = {
      name: this.stream,
      subjects: [`${this.#prefix}q.>`],
      num_replicas: this.replicas,
      max_age: MAX_AGE_NS,
      allow_direct: true,
      republish: { src: `${this.#prefix}q.>`, dest: `${this.#prefix}live.>` },
      duplicate_window: 120_000_000_000,
    };
    try {
      await this.jsm.streams.info(this.stream);
    } catch {
      await this.jsm.streams.add(config).catch(() => this.jsm.streams.info(this.stream));
    }
    this.#subs.push(
      this.nc.subscribe(`${this.#prefix}live.*`, { callback: (err, m) => {
        if (err) return;
        this.#offer(m.subject.slice(this.#prefix.length + 5), unpackr.unpack(m.data) as Stored, Number(m.headers?.get("Nats-Sequence")));
      } }),
      this.nc.subscribe(`${this.#prefix}ack.${local.node}`, { callback: (err, m) => {
        if (!err) this.#settled(unpackr.unpack(m.data) as { cid: string; data?: unknown; code?: string; message?: string });
      } }),
    );
    await this.nc.flush();
  }

  async stop(): Promise<void> {
    for (const s of this.#subs.splice(0)) s.unsubscribe();
    for (const p of this.#issued.values()) {
      clearTimeout(p.timer);
      // The command stays queued in the stream: only this node's wait for the ack ends.
      p.reject(new ProtocolError(ErrorCode.SHUTTING_DOWN, "server is shutting down; the command stays queued, its ack will not reach this node"));
    }
    this.#issued.clear();
  }

  async command(device: string, name: string, data: unknown, ttlMs: number, maxQueued: number): Promise<unknown> {
    const subject = `${this.#prefix}q.${device}`;
    let queued: number;
    try {
      const info = await this.jsm.streams.info(this.stream, { subjects_filter: subject });
      queued = info.state.subjects?.[subject] ?? 0;
    } catch (e) {
      throw unavailable(e);
    }
    if (queued >= maxQueued) throw new ProtocolError(ErrorCode.DEVICE_QUEUE_FULL, `device '${device}' has ${queued} commands queued already`);
    const node = this.#local!.node;
    const cid = `${Date.now().toString(36)}-${node}-${(++this.#seq).toString(36)}`;
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#issued.delete(cid);
        reject(new TimeoutError(`device '${device}' did not acknowledge '${name}' within ${ttlMs} ms`).withCode(ErrorCode.COMMAND_TIMEOUT));
      }, ttlMs);
      this.#issued.set(cid, { resolve, reject, timer });
    });
    const stored: Stored = { cid, name, data, expiresAt: Date.now() + ttlMs, node };
    try {
      await this.js.publish(subject, packr.pack(stored), { msgID: cid });
      this.stored++;
    } catch (e) {
      const p = this.#issued.get(cid);
      this.#issued.delete(cid);
      if (p) clearTimeout(p.timer);
      throw unavailable(e);
    }
    return result;
  }

  /** The device connected here: hand it every command queued for it. */
  async backlog(device: string): Promise<void> {
    const subject = `${this.#prefix}q.${device}`;
    for (let seq = 1; ; ) {
      const m = await this.jsm.direct.getMessage(this.stream, { next_by_subj: subject, seq });
      if (!m) return;
      this.#offer(device, unpackr.unpack(m.data) as Stored, m.seq);
      seq = m.seq + 1;
    }
  }

  #offer(device: string, c: Stored, seq: number): void {
    if (c.expiresAt <= Date.now()) {
      void this.jsm.streams.deleteMessage(this.stream, seq, false).catch(() => undefined);
      return;
    }
    const cmd: QueuedCommand = {
      cid: c.cid,
      name: c.name,
      data: c.data,
      expiresAt: c.expiresAt,
      settle: (result) => {
        void this.jsm.streams.deleteMessage(this.stream, seq, false).catch(() => undefined);
        this.nc.publish(`${this.#prefix}ack.${c.node}`, packr.pack({ cid: c.cid, ...result }));
      },
    };
    this.#local?.take(device, cmd);
  }

  #settled(r: { cid: string; data?: unknown; code?: string; message?: string }): void {
    const p = this.#issued.get(r.cid);
    if (!p) return; // a duplicate ack, or the promise timed out already
    this.#issued.delete(r.cid);
    clearTimeout(p.timer);
    if (r.code !== undefined) p.reject(new TickgateError(r.code, r.message ?? ""));
    else p.resolve(r.data ?? null);
  }
}

function unavailable(cause: unknown): ProtocolError {
  const e = new ProtocolError(ErrorCode.BUS_UNAVAILABLE, "the command could not be queued: JetStream did not answer; retry later");
  (e as { cause?: unknown }).cause = cause;
  return e;
}
