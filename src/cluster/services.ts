/**
 * `NatsServices`: what nodes share besides topics, over the bus's NATS
 * connection: the online-device set (presence.ts), device commands
 * (commands.ts), request handlers on any node, and the cluster view of
 * stats. Nothing here runs per publication.
 *
 * Requests: a node subscribes `tgreq.<name>.<method>` in the queue group
 * `tickgate` for each method it has a handler for; a node without a local
 * handler sends a NATS request there, so exactly one node with a handler
 * answers. No responder at all is NO_HANDLER, as on one node.
 *
 * Heartbeats: every `heartbeatMs` a node publishes its own figures on
 * `tgnode.<name>.hb`; a node counts as alive while it was heard from within
 * three intervals. The stats view lists the live nodes and sums them.
 * @module
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { ClusterLocal, ClusterServices, ClusterView, NodeView } from "../core/cluster.ts";
import { ProtocolError, TickgateError, TimeoutError } from "../core/errors.ts";
import type { RequestContext } from "../core/requests.ts";
import { packr, unpackr } from "../protocol/codec.ts";
import { ErrorCode, RESERVED_CODES } from "../protocol/codes.ts";
import { CLIENT_TYPES, type ClientType } from "../protocol/frames.ts";
import { CommandQueue } from "./commands.ts";
import { PresenceSet } from "./presence.ts";

export interface ServicesOptions {
  name: string;
  replicas: number;
  /** How often a node announces itself; a node silent for three intervals is lost. Default 1000 ms. */
  heartbeatMs?: number;
}

/** A method name as one subject token: percent-encoded, with `.` and `*` too. */
export const methodToken = (method: string): string => encodeURIComponent(method).replace(/\./g, "%2E").replace(/\*/g, "%2A");

export class NatsServices implements ClusterServices {
  readonly presence: PresenceSet;
  readonly commands: CommandQueue;
  readonly #nc: NatsConnection;
  readonly #name: string;
  readonly #hbMs: number;
  readonly #heard = new Map<string, { view: NodeView; heardAt: number }>();
  readonly #offers = new Map<string, Subscription>();
  #local: ClusterLocal | null = null;
  #hbSub: Subscription | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #startedAt = 0;
  /** Connected to NATS; a node cut off judges nobody (a delete buffered meanwhile would land after the reconnect). */
  #up = true;

  constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, o: ServicesOptions) {
    this.#nc = nc;
    this.#name = o.name;
    this.#hbMs = o.heartbeatMs ?? 1000;
    this.presence = new PresenceSet(nc, `tickgate_${o.name}_presence`, o.replicas);
    this.commands = new CommandQueue(nc, js, jsm, o.name, o.replicas);
  }

  async start(local: ClusterLocal): Promise<void> {
    this.#local = local;
    this.#startedAt = Date.now();
    await this.presence.start(local);
    await this.commands.start(local);
    this.#hbSub = this.#nc.subscribe(`tgnode.${this.#name}.hb`, { callback: (err, m) => {
      if (err) return;
      const view = unpackr.unpack(m.data) as NodeView;
      if (view.node === local.node) return;
      const known = this.#heard.has(view.node);
      this.#heard.set(view.node, { view, heardAt: Date.now() });
      // A node new to us learns of us now rather than an interval later.
      if (!known) this.#beat();
    } });
    this.#beat();
    this.#timer = setInterval(() => this.#tick(), this.#hbMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#hbSub?.unsubscribe();
    for (const s of this.#offers.values()) s.unsubscribe();
    this.#offers.clear();
    await this.presence.stop();
    await this.commands.stop();
  }

  /** Back after a disconnect: other nodes' heartbeats were missed, so none is judged lost before a fresh round. */
  reconnected(): void {
    this.#up = true;
    this.#startedAt = Date.now();
    for (const h of this.#heard.values()) h.heardAt = Math.max(h.heardAt, Date.now() - this.#hbMs);
    this.#beat();
  }

  disconnected(): void {
    this.#up = false;
  }

  claim(device: string, session: string): void {
    void this.presence.claim(device, session).then(() => this.commands.backlog(device)).catch(() => undefined);
  }

  release(device: string, session: string): Promise<boolean> {
    return this.presence.release(device, session);
  }

  isOnline(device: string): boolean {
    return this.presence.has(device);
  }

  devicesOnline(): number {
    return this.presence.size;
  }

  command(device: string, name: string, data: unknown, ttlMs: number, maxQueued: number): Promise<unknown> {
    return this.commands.command(device, name, data, ttlMs, maxQueued);
  }

  offer(method: string): void {
    if (this.#offers.has(method) || !this.#local) return;
    const local = this.#local;
    this.#offers.set(method, this.#nc.subscribe(`tgreq.${this.#name}.${methodToken(method)}`, { queue: "tickgate", callback: (err, m) => {
      if (err) return;
      const { data, ctx } = unpackr.unpack(m.data) as { data: unknown; ctx: RequestContext };
      local.call(method, data, ctx).then(
        (r) => m.respond(packr.pack({ ok: r ?? null })),
        (e: TickgateError) => m.respond(packr.pack({ code: e.code ?? ErrorCode.HANDLER_ERROR, message: e.message })),
      );
    } }));
  }

  async request(method: string, data: unknown, ctx: RequestContext, timeoutMs: number): Promise<unknown> {
    let reply;
    try {
      // The answering node times its handler out first and says so; this bound is for a node lost mid-request.
      reply = await this.#nc.request(`tgreq.${this.#name}.${methodToken(method)}`, packr.pack({ data, ctx }), { timeout: timeoutMs + 1000 });
    } catch (e) {
      const err = e as { isNoResponders?: () => boolean; name?: string };
      if (err.isNoResponders?.()) throw new ProtocolError(ErrorCode.NO_HANDLER, `no handler for method '${method}' on any node`);
      if (err.name === "TimeoutError" || /timeout/i.test(String(e))) throw new TimeoutError(`'${method}' did not answer within ${timeoutMs} ms`);
      throw new ProtocolError(ErrorCode.BUS_UNAVAILABLE, `'${method}' could not reach another node: ${String(e)}`);
    }
    const r = unpackr.unpack(reply.data) as { ok?: unknown; code?: string; message?: string };
    if (r.code === undefined) return r.ok ?? null;
    if (r.code === ErrorCode.REQUEST_TIMEOUT) throw new TimeoutError(r.message ?? "");
    if (RESERVED_CODES.has(r.code)) throw new ProtocolError(r.code as ErrorCode, r.message ?? "");
    throw new TickgateError(r.code, r.message ?? "");
  }

  /** Live nodes (this one included, with fresh figures), sorted by id. */
  nodes(): NodeView[] {
    const local = this.#local!;
    const now = Date.now();
    const out: NodeView[] = [{ node: local.node, at: now, ...local.figures() }];
    for (const [id, h] of this.#heard) {
      if (now - h.heardAt <= 3 * this.#hbMs) out.push(h.view);
      else if (now - h.heardAt > 60 * this.#hbMs) this.#heard.delete(id);
    }
    return out.sort((a, b) => (a.node < b.node ? -1 : 1));
  }

  methods(): string[] {
    const all = new Set<string>();
    for (const n of this.nodes()) for (const m of n.methods ?? []) all.add(m);
    return [...all];
  }

  view(): ClusterView {
    const nodes = this.nodes();
    const sessions = Object.fromEntries(CLIENT_TYPES.map((c) => [c, 0])) as Record<ClientType, number>;
    let connections = 0;
    for (const n of nodes) {
      connections += n.connections;
      for (const c of CLIENT_TYPES) sessions[c] += n.sessions[c] ?? 0;
    }
    return { nodes, connections, sessions, devicesOnline: this.presence.size };
  }

  #beat(): void {
    const local = this.#local;
    if (!local || this.#nc.isClosed()) return;
    const view: NodeView = { node: local.node, at: Date.now(), ...local.figures() };
    try {
      this.#nc.publish(`tgnode.${this.#name}.hb`, packr.pack(view));
    } catch {
      // Disconnected: the next beat tries again.
    }
  }

  #tick(): void {
    this.#beat();
    // Judge other nodes only after having listened for as long as the judgement takes.
    if (!this.#up || Date.now() - this.#startedAt < 3 * this.#hbMs) return;
    const alive = new Set(this.nodes().map((n) => n.node));
    // One sweeper at a time: the lowest live id.
    if ([...alive].sort()[0] === this.#local!.node) void this.presence.sweep(alive).catch(() => undefined);
  }
}
