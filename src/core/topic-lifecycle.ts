/**
 * Topic life cycle: who may create topics, and when they go away.
 *
 * Creation: a client's publication that would create a topic counts
 * against two quotas, its connection's (`topicLimits.perConnection`) and
 * its identity's (`perIdentity`: the token's subject, or the address
 * without a token), so no caller can take a large share of `maxTopics`.
 * Past a quota: `TOPIC_QUOTA`. `maxTopics` stays as the last resort
 * (`TOO_MANY_TOPICS`, logged and counted). Server-side publications
 * (producers, presence, device logs) are the operator's own and are exempt
 * from all three, so clients' topics can never starve them.
 *
 * Eviction: one coarse sweep (every `idleMs / 4`, at most 5 s) evicts
 * topics that have had no publication for `idleMs`, have no subscriber, and
 * hold no retained value or history (those expire by the policy's
 * `retainTtlMs` / `historyTtlMs`; without a TTL they keep the topic). The
 * bus forgets the topic's sequence, so a topic published to again starts
 * a new epoch and a client recovering across the eviction is told
 * `reason: "epoch"`. Cost: a Map lookup per publication to a new topic;
 * O(topics) per sweep; nothing per delivery.
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import type { Bus } from "./bus.ts";
import type { ChannelIndex } from "./channel-index.ts";
import { ProtocolError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Options } from "./options.ts";
import type { Topic, TopicCount } from "./topic.ts";

/** Who creates a topic: the quotas it counts against. */
export interface TopicCreator {
  /** `sub:<subject>` or `ip:<address>`. */
  identity: string;
  /** The connection's own count; absent for an HTTP request. */
  connection?: TopicCount | undefined;
}

export interface TopicLifecycleCounters {
  /** Topics evicted as idle. */
  evicted: number;
  /** Publications refused by a caller's quota. */
  quotaRefused: number;
  /** Publications refused by `maxTopics`. */
  maxTopicsRefused: number;
}

/** The identity key of a caller for the quota: its token's subject, else its address. */
export function creatorKey(sub: string | undefined, address: string): string {
  return sub === undefined ? `ip:${address}` : `sub:${sub}`;
}

const LOG_EVERY_MS = 1000;

export class TopicLifecycle {
  readonly counters: TopicLifecycleCounters = { evicted: 0, quotaRefused: 0, maxTopicsRefused: 0 };
  /** Live topics created per identity; an identity leaves when its count is 0. */
  readonly #byIdentity = new Map<string, TopicCount>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #loggedAt = 0;

  constructor(
    readonly options: Options,
    readonly topics: Map<string, Topic>,
    readonly index: ChannelIndex,
    readonly bus: Bus,
    readonly log: Logger | undefined,
    /** Called for every evicted topic, after it left `topics`. */
    readonly onEvict: (t: Topic) => void,
  ) {}

  start(): void {
    const idle = this.options.topicLimits.idleMs;
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.sweep(), Math.min(5000, Math.max(10, Math.floor(idle / 4))));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Checks that a topic may be created; returns the counts it will hold
   * (released on eviction). Throws TOPIC_QUOTA or TOO_MANY_TOPICS.
   */
  admit(topic: string, creator: TopicCreator | undefined, server: boolean): TopicCount[] {
    if (server) return [];
    const l = this.options.topicLimits;
    const conn = creator?.connection;
    let id: TopicCount | undefined;
    if (creator !== undefined) {
      if (conn !== undefined && conn.n >= l.perConnection) this.#quota(topic, creator, `a connection may create ${l.perConnection} topics`);
      id = this.#byIdentity.get(creator.identity);
      if (id !== undefined && id.n >= l.perIdentity) this.#quota(topic, creator, `one caller may hold ${l.perIdentity} topics it created`);
    }
    if (this.topics.size >= this.options.maxTopics) {
      this.counters.maxTopicsRefused++;
      this.#logRefusal("max_topics", topic, creator);
      throw new ProtocolError(ErrorCode.TOO_MANY_TOPICS, `the server holds ${this.options.maxTopics} topics already`);
    }
    if (creator === undefined) return [];
    if (id === undefined) this.#byIdentity.set(creator.identity, (id = { n: 0, key: creator.identity }));
    id.n++;
    if (conn === undefined) return [id];
    conn.n++;
    return [id, conn];
  }

  #quota(topic: string, creator: TopicCreator, why: string): never {
    this.counters.quotaRefused++;
    this.#logRefusal("topic_quota", topic, creator);
    throw new ProtocolError(ErrorCode.TOPIC_QUOTA, `cannot create '${topic}': ${why}`);
  }

  /** At most one line a second, with the running total: a flood must not flood the log too. */
  #logRefusal(event: string, topic: string, creator: TopicCreator | undefined): void {
    const now = Date.now();
    if (this.log === undefined || now - this.#loggedAt < LOG_EVERY_MS) return;
    this.#loggedAt = now;
    const c = this.counters;
    this.log.warn({ event: "limit", code: event === "max_topics" ? ErrorCode.TOO_MANY_TOPICS : ErrorCode.TOPIC_QUOTA, who: creator?.identity, topic, refused: event === "max_topics" ? c.maxTopicsRefused : c.quotaRefused, topics: this.topics.size }, "topic creation refused");
  }

  /** Evicts every idle topic; see the module comment. */
  sweep(now = Date.now()): number {
    const idleMs = this.options.topicLimits.idleMs;
    let n = 0;
    for (const t of this.topics.values()) {
      if (now - t.lastActive < idleMs) continue;
      if (t.expireRetained(now) > 0) continue;
      if (t.history !== null && t.history.held(now) > 0) continue;
      if (this.index.match(t.name).length > 0) continue;
      this.evict(t);
      n++;
    }
    return n;
  }

  evict(t: Topic): void {
    this.topics.delete(t.name);
    for (const c of t.owners) if (--c.n === 0 && c.key !== undefined) this.#byIdentity.delete(c.key);
    this.bus.forget?.(t.name);
    this.counters.evicted++;
    this.onEvict(t);
  }

  /** Identities holding topics, for the stats. */
  get identities(): number {
    return this.#byIdentity.size;
  }
}
