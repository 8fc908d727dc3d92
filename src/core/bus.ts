/**
 * The bus carries publications between nodes. The bus, not the node, gives
 * each publication its per-topic sequence number and epoch: in one process
 * that is a counter; across machines it will be the stream sequence of a
 * NATS JetStream stream (see docs/architecture.md), so sequence numbers stay
 * meaningful with many nodes.
 * @module
 */
import type { Payload } from "../protocol/frames.ts";
import type { ClusterServices } from "./cluster.ts";

/** A publication before sequencing. */
export interface Draft {
  topic: string;
  key: string | undefined;
  tags?: readonly string[] | undefined;
  ts: number;
  payload: Payload;
  /** `performance.now()` when the publication arrived on this node, for latency sampling. */
  arrivedAt?: number;
}

/** A sequenced publication, as every node receives it. */
export interface Sequenced extends Draft {
  seq: number;
  epoch: string;
}

export interface BusNode {
  deliver(msg: Sequenced): void;
}

export interface Bus {
  /**
   * Identity of the sequence numbers this bus hands out to new topics; see
   * docs/architecture.md. A topic keeps the epoch it started in.
   */
  readonly epoch: string;
  /**
   * The node evicted `topic`: forget its sequence, so that if it is
   * published to again it starts over in a new epoch (never a reused one).
   * A bus whose sequences outlive the node (a shared stream) may omit it.
   */
  forget?(topic: string): void;
  /** Connects a node; the bus calls `node.deliver` for every publication, its own included. */
  attach(node: BusNode): Promise<void>;
  /** Sequences and fans out a publication; resolves to its sequence number. */
  publish(draft: Draft): number | Promise<number>;
  detach(node: BusNode): Promise<void>;
  /**
   * Cluster buses only. Makes the node current on a topic or pattern (seq,
   * history, retained values) before a subscription to it is prepared.
   * Returns `undefined` when the node already is, so subscribing stays
   * synchronous on the common path; the caller awaits a returned promise.
   */
  warm?(key: string): Promise<void> | undefined;
  /**
   * Cluster buses only. The node's local interest in a topic or pattern began
   * (`on`, first local channel on it) or ended (last one gone); a cluster bus
   * receives only what local clients are subscribed to.
   */
  interest?(key: string, on: boolean): void;
  /**
   * Cluster buses only. Presence, device commands, request handlers and the
   * stats view shared with the other nodes; without it they stay per node.
   */
  readonly cluster?: ClusterServices;
}

/** Random per process: a restart changes every topic's epoch. */
export function newEpoch(): string {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Sequences publications for one or more nodes living in this process. */
export class LocalBus implements Bus {
  readonly #nodes: BusNode[] = [];
  readonly #seqs = new Map<string, { seq: number; epoch: string }>();
  readonly #base = newEpoch();
  #epoch = this.#base;
  #generation = 0;
  /** A topic was forgotten since the epoch last changed. */
  #stale = false;

  /**
   * `<random>` at first; `<random>.<n>` for topics started after the n-th
   * round of evictions. Read after a `forget`, it is already a new one, so
   * no epoch handed out (an ack's, say) can be an evicted topic's.
   */
  get epoch(): string {
    if (this.#stale) {
      this.#stale = false;
      this.#epoch = `${this.#base}.${++this.#generation}`;
    }
    return this.#epoch;
  }

  forget(topic: string): void {
    if (this.#seqs.delete(topic)) this.#stale = true;
  }

  async attach(node: BusNode): Promise<void> {
    this.#nodes.push(node);
  }

  async detach(node: BusNode): Promise<void> {
    const i = this.#nodes.indexOf(node);
    if (i >= 0) this.#nodes.splice(i, 1);
  }

  publish(draft: Draft): number {
    let s = this.#seqs.get(draft.topic);
    // A topic (re)starting after an eviction must not share the evicted one's epoch: the getter moves on.
    if (s === undefined) this.#seqs.set(draft.topic, (s = { seq: 0, epoch: this.epoch }));
    const msg = draft as Sequenced;
    msg.seq = ++s.seq;
    msg.epoch = s.epoch;
    const nodes = this.#nodes;
    for (let i = 0; i < nodes.length; i++) nodes[i]!.deliver(msg);
    return msg.seq;
  }
}
