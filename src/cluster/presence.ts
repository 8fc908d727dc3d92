/**
 * The cluster-wide set of online devices, in a JetStream key-value bucket
 * (`tickgate_<name>_presence`, key = device id, value = the node and
 * connection that hold it). Runs once per device connect and disconnect,
 * never per message.
 *
 * Ownership: the newest claim wins. A node that accepts a device's
 * connection writes the key (its KV revision is the claim's order); when
 * that connection closes, the node deletes the key only if the value is
 * still its own connection's, with the revision it read as the expected last
 * one (compare-and-delete). So a device that reconnected to node B while
 * node A still held its old connection is not reported offline by A: A's
 * delete is refused or A sees B's claim, and A stays silent.
 *
 * Every node watches the bucket and keeps a copy of the set, so `isOnline`
 * and the count are local reads. A node that stops sending heartbeats
 * (killed, frozen, cut off) loses its devices: the live node with the lowest
 * id deletes each of them (compare-and-delete again, so a device that
 * reconnected meanwhile is untouched) and publishes its `offline` presence
 * with `reason: "node_lost"`.
 * @module
 */
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ClusterLocal } from "../core/cluster.ts";
import { presenceTopic } from "../core/devices.ts";

interface Holder {
  node: string;
  session: string;
  /** KV revision of the claim; 0 until the watch confirms a claim made here. */
  rev: number;
}

export class PresenceSet {
  #kv: KV | null = null;
  #local: ClusterLocal | null = null;
  readonly #set = new Map<string, Holder>();
  /** Per device, this node's claims and releases run in order. */
  readonly #chains = new Map<string, Promise<unknown>>();
  /** Devices claimed here and not yet released, by connection. */
  readonly #mine = new Map<string, string>();
  /** Devices of this node another node reported lost (this node was frozen or cut off). */
  readonly #swept = new Set<string>();
  #stopped = false;

  constructor(
    readonly nc: NatsConnection,
    readonly bucket: string,
    readonly replicas: number,
  ) {}

  async start(local: ClusterLocal): Promise<void> {
    this.#local = local;
    const kv = (this.#kv = await new Kvm(this.nc).create(this.bucket, { history: 1, replicas: this.replicas }));
    const w = await kv.watch();
    // The watch first replays every current key, then follows changes; it resumes by itself after a reconnect.
    void (async () => {
      for await (const e of w) {
        if (this.#stopped) break;
        if (e.operation === "PUT") {
          const v = e.json<{ node: string; session: string }>();
          this.#set.set(e.key, { node: v.node, session: v.session, rev: e.revision });
        } else {
          const prev = this.#set.get(e.key);
          this.#set.delete(e.key);
          const session = this.#mine.get(e.key);
          // The confirmed claim of a connection still open here was deleted, and not by a release
          // here (that forgets the connection first): a sweeper counted this node lost.
          if (session !== undefined && prev?.node === local.node && prev.rev > 0 && prev.session === session) {
            this.#swept.add(e.key);
            local.drop(e.key, session);
          }
        }
      }
    })().catch(() => undefined);
    this.stop = async () => {
      this.#stopped = true;
      w.stop();
      await Promise.allSettled([...this.#chains.values()]);
    };
  }

  stop: () => Promise<void> = async () => {};

  get size(): number {
    return this.#set.size;
  }

  has(device: string): boolean {
    return this.#set.has(device);
  }

  /** The connection holding `device` according to the shared set. */
  sessionOf(device: string): string | undefined {
    return this.#set.get(device)?.session;
  }

  /** KV revision of the device's claim as this node's watch last saw it (0: not confirmed yet). */
  revisionOf(device: string): number | undefined {
    return this.#set.get(device)?.rev;
  }

  /** Resolves once this node's claims and releases so far are done. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#chains.values()]);
  }

  /** Devices held by `node` according to the shared set. */
  heldBy(node: string): number {
    let n = 0;
    for (const h of this.#set.values()) if (h.node === node) n++;
    return n;
  }

  claim(device: string, session: string): Promise<void> {
    const node = this.#local!.node;
    this.#set.set(device, { node, session, rev: 0 });
    this.#mine.set(device, session);
    this.#swept.delete(device);
    return this.#chain(device, async () => {
      await this.#kv!.put(device, JSON.stringify({ node, session, at: Date.now() }));
    });
  }

  release(device: string, session: string): Promise<boolean> {
    if (this.#mine.get(device) === session) this.#mine.delete(device);
    return this.#chain(device, async () => {
      const kv = this.#kv!;
      const e = await kv.get(device);
      if (!e || e.operation !== "PUT") {
        this.#dropOwn(device, session);
        // Already reported offline (node_lost) by the node that swept it.
        return !this.#swept.delete(device);
      }
      const v = e.json<{ session: string }>();
      if (v.session !== session) return false; // claimed again since, here or elsewhere
      try {
        await kv.delete(device, { previousSeq: e.revision });
      } catch {
        return false; // a newer claim landed between the read and the delete
      }
      this.#dropOwn(device, session);
      return true;
    });
  }

  /**
   * Reports offline every device held by a node not in `alive`. Called by
   * one node at a time (the lowest live id); compare-and-delete keeps two
   * sweepers from both reporting a device.
   */
  async sweep(alive: ReadonlySet<string>): Promise<void> {
    const kv = this.#kv;
    if (!kv) return;
    for (const [device, h] of [...this.#set]) {
      if (alive.has(h.node) || h.rev === 0) continue;
      try {
        await kv.delete(device, { previousSeq: h.rev });
      } catch {
        continue;
      }
      this.#set.delete(device);
      this.#local!.publish(presenceTopic(device), { state: "offline", reason: "node_lost", ts: Date.now() }, device);
    }
  }

  #dropOwn(device: string, session: string): void {
    if (this.#set.get(device)?.session === session) this.#set.delete(device);
  }

  #chain<T>(device: string, f: () => Promise<T>): Promise<T> {
    const prev = this.#chains.get(device) ?? Promise.resolve();
    const next = prev.then(f, f);
    this.#chains.set(device, next);
    const done = (): void => {
      if (this.#chains.get(device) === next) this.#chains.delete(device);
    };
    next.then(done, done);
    return next;
  }
}
