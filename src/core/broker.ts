/**
 * The publish/subscribe engine: topics, channels, retained values and the
 * hand-off to native fan-out. Everything here runs once per publication or
 * once per subscribe, never once per delivery.
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import { Tags, compileFilter, type Filter, type FilterFn } from "../protocol/filter.ts";
import type { AckFrame, Payload, RecoverPosition, RecoveryFailure } from "../protocol/frames.ts";
import { isPattern, matches, topicError } from "../protocol/topic.ts";
import type { Bus, BusNode, Draft, Sequenced } from "./bus.ts";
import { ChannelIndex } from "./channel-index.ts";
import type { Channel } from "./channel.ts";
import { Coalescer } from "./coalescer.ts";
import { FanOut } from "./fanout.ts";
import { ProtocolError } from "./errors.ts";
import type { Options } from "./options.ts";
import type { PolicyTable } from "./policy.ts";
import { Publication, type EncodeCounters } from "./publication.ts";
import type { Session } from "./session.ts";
import type { Logger } from "./log.ts";
import { TopicLifecycle, type TopicCreator } from "./topic-lifecycle.ts";
import { forgetTopicParts } from "../protocol/publication-frame.ts";
import type { SlowConsumerGuard } from "./slow-consumers.ts";
import { LatencySampler } from "./latency.ts";
import { Topic } from "./topic.ts";
import type { Transport } from "./transport.ts";
import { packr } from "../protocol/codec.ts";
import { assertOneValue } from "../protocol/msgpack-scan.ts";

export interface BrokerCounters {
  publications: number;
  deliveries: number;
  bytesOut: number;
  bytesIn: number;
}

/**
 * Packs a value payload and checks the result like a client's msgpack: a JS
 * string with a lone surrogate packs to invalid UTF-8, which no subscriber
 * could decode.
 */
function packValue(value: unknown): Uint8Array {
  try {
    const raw = packr.pack(value);
    assertOneValue(raw);
    return raw;
  } catch (e) {
    // also a RangeError from packing absurdly deep values
    throw new ProtocolError(ErrorCode.BAD_PAYLOAD, `data cannot be carried: ${(e as Error).message}`);
  }
}

/** A topic's retained values that pass the filter, in seq order (a topic's seqs only ever rise), onto `backlog`. */
function retainedInto(backlog: Publication[], t: Topic, pass: FilterFn | null): void {
  const ttl = t.policy.retainTtlMs;
  const all = [...t.retained!.values()];
  const fresh = ttl > 0 ? all.filter((p) => p.ts >= Date.now() - ttl) : all;
  for (const pub of fresh.sort((x, y) => x.seq - y.seq)) if (!pass || pass(pub.tags)) backlog.push(pub);
}

/** What a subscription starts with; see {@link Broker.prepareSubscribe}. */
export interface JoinPlan {
  /** Subscription key: the topic or pattern, plus the filter's spelling if any. */
  key: string;
  base: string;
  filter: Filter | undefined;
  /** Already subscribed: the ack is sent, nothing else happens. */
  already: boolean;
  ack: Pick<AckFrame, "seq" | "epoch" | "recovery" | "backlog">;
  /** Replayed history and retained values, in the order they are sent. */
  backlog: Publication[];
}

/**
 * Who a publication is checked as: `"client"` for anything a caller sent
 * (a socket's `pub`, HTTP publish, a last will), so `publish: "server"`
 * policies refuse it; `"server"` for the server's own producers
 * (`server.publish`, presence, device logs).
 */
export type Origin = "client" | "server";

export class Broker implements BusNode {
  readonly index: ChannelIndex;
  readonly topics = new Map<string, Topic>();
  readonly counters: BrokerCounters = { publications: 0, deliveries: 0, bytesOut: 0, bytesIn: 0 };
  readonly encodes: EncodeCounters = { msgpack: 0, json: 0 };
  readonly latency = new LatencySampler();
  readonly lifecycle: TopicLifecycle;
  /** When sequenced publications reach the native fan-out (per-topic `linger`, batch frames). */
  readonly coalescer: Coalescer;
  /**
   * Counts of evicted topics, summed per first token (the metrics' topic
   * class), so totals by class never go down; past 10,000 tokens, under `~`.
   */
  readonly retired = new Map<string, { name: string; published: number; deliveries: number; bytesIn: number }>();

  constructor(
    readonly options: Options,
    readonly policies: PolicyTable,
    readonly transport: Transport,
    readonly bus: Bus,
    readonly guard: SlowConsumerGuard,
    log?: Logger,
  ) {
    this.index = new ChannelIndex(policies);
    this.coalescer = new Coalescer(new FanOut(transport, this.index, guard, this.counters, this.latency), this.index);
    this.lifecycle = new TopicLifecycle(options, this.topics, this.index, bus, log, (t) => {
      // Per-topic caches go with the topic, so memory returns to its baseline.
      this.#retire(t);
      this.index.forget(t.name);
      this.policies.forget(t.name);
      forgetTopicParts(t.name);
    });
  }

  /**
   * Checks a publication against the topic's policy, then hands it to the
   * bus for sequencing and fan-out. Resolves to its sequence number.
   */
  publish(topic: string, payload: Payload, key: string | undefined, origin: Origin, tags?: readonly string[], creator?: TopicCreator): number | Promise<number> {
    // A topic the broker already holds was checked when it was created.
    if (!this.topics.has(topic)) {
      const bad = topicError(topic, false);
      if (bad) throw new ProtocolError(ErrorCode.BAD_TOPIC, `bad topic: ${bad}`);
    }
    if ((key !== undefined && !key.isWellFormed()) || (tags !== undefined && !tags.every((t) => typeof t === "string" && t.isWellFormed()))) {
      throw new ProtocolError(ErrorCode.INVALID_FRAME, "key and tags must be well-formed strings");
    }
    const policy = this.policies.for(topic);
    if (origin === "client" && policy.publish === "server") {
      throw new ProtocolError(ErrorCode.FORBIDDEN, `topic '${topic}' accepts publications from the server only`);
    }
    // A value payload is packed here once: its size is checked and the same
    // bytes later become every msgpack frame.
    const raw = payload.raw ?? packValue(payload.value);
    if (raw.length > policy.maxPayload) {
      throw new ProtocolError(ErrorCode.PAYLOAD_TOO_LARGE, `payload is ${raw.length} bytes; topic '${topic}' allows ${policy.maxPayload}`, {
        size: raw.length,
        limit: policy.maxPayload,
      });
    }
    const p: Payload = payload.raw ? payload : { raw, value: payload.value };
    const draft: Draft = { topic, key, ts: Date.now(), payload: p };
    if (tags !== undefined && tags.length > 0) {
      if (!Tags.safeParse(tags).success) throw new ProtocolError(ErrorCode.INVALID_FRAME, "tags: at most 32 strings of 1 to 64 characters");
      draft.tags = tags;
    }
    if (!this.topics.has(topic)) {
      // Last check: a refusal above must not take a quota unit.
      const owners = this.lifecycle.admit(topic, creator, origin === "server");
      const t = new Topic(topic, policy, this.bus.epoch);
      t.owners = owners;
      this.topics.set(topic, t);
    }
    if (this.latency.due()) draft.arrivedAt = performance.now();
    return this.bus.publish(draft);
  }

  /**
   * Called by the bus for every sequenced publication: the topic's state
   * (seq, history, retained value) changes here, at once; the native
   * fan-out follows now or, on a lingering topic, with its window.
   */
  deliver(msg: Sequenced): void {
    const topic = this.#topic(msg.topic, msg.epoch);
    const pub = new Publication(msg.topic, msg.seq, msg.epoch, msg.ts, msg.key, msg.payload, this.encodes, msg.tags);
    topic.seq = msg.seq;
    topic.epoch = msg.epoch;
    topic.lastActive = msg.ts;
    topic.published++;
    const rawLen = msg.payload.raw?.length ?? 0;
    topic.bytesIn += rawLen;
    this.counters.publications++;
    this.counters.bytesIn += rawLen;
    if (topic.policy.retain) topic.retain(pub);
    topic.history?.push(pub);

    // Now or later (the topic's `linger`), but after seq, history and retained value are set.
    this.coalescer.add(pub, topic, msg.arrivedAt);
  }

  #retire(t: Topic): void {
    const dot = t.name.indexOf(".");
    let cls = dot < 0 ? t.name : t.name.slice(0, dot);
    if (!this.retired.has(cls) && this.retired.size >= 10_000) cls = "~";
    let r = this.retired.get(cls);
    if (!r) this.retired.set(cls, (r = { name: cls, published: 0, deliveries: 0, bytesIn: 0 }));
    r.published += t.published;
    r.deliveries += t.deliveries;
    r.bytesIn += t.bytesIn;
  }

  /** Starts and stops the idle-topic sweep. */
  start(): void {
    this.lifecycle.start();
  }

  stop(): void {
    this.lifecycle.stop();
    this.coalescer.stop();
  }

  /** A topic published to on another node (through the bus) is created here as it arrives. */
  #topic(name: string, epoch: string): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = new Topic(name, this.policies.for(name), epoch);
      this.topics.set(name, t);
    }
    return t;
  }

  /**
   * Validates a subscription and works out what it starts with: replayed
   * history (when recovering) and retained values. Nothing is changed yet;
   * the caller sends the ack, then calls {@link join} in the same turn.
   */
  prepareSubscribe(s: Session, key: string, recover?: RecoverPosition, filter?: Filter): JoinPlan {
    const bad = topicError(key, true);
    if (bad) throw new ProtocolError(ErrorCode.BAD_TOPIC, `bad topic: ${bad}`);
    const pattern = isPattern(key);
    const exact = pattern ? undefined : this.topics.get(key);
    // An exact topic's numbering is its own epoch's; a new topic starts in the bus's current one.
    const epoch = exact?.epoch ?? this.bus.epoch;
    const full = ChannelIndex.keyOf(key, filter);
    const plan: JoinPlan = { key: full, base: key, filter, already: s.subs.has(full), ack: { epoch }, backlog: [] };
    if (!pattern) plan.ack.seq = exact?.seq ?? 0;
    // A repeated identical subscription sends no backlog, so its ack has none.
    if (plan.already) return plan;
    if (s.subs.size >= this.options.maxSubscriptions) {
      throw new ProtocolError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `a connection may hold ${this.options.maxSubscriptions} subscriptions`);
    }
    const pass = filter ? compileFilter(filter) : null;
    // Recovery and patterns are the rare cases: kept out of this function, which every subscribe runs.
    const recovered = recover ? this.#replay(plan, key, pattern, recover, pass) : null;
    // Retained values are the snapshot for every topic not recovered.
    if (pattern) {
      for (const t of this.topics.values()) if (t.retained && !recovered?.has(t.name) && matches(key, t.name)) retainedInto(plan.backlog, t, pass);
    } else if (exact?.retained && !recovered?.has(key)) retainedInto(plan.backlog, exact, pass);
    plan.ack.backlog = plan.backlog.length;
    return plan;
  }

  /** Replays history into the plan's backlog and sets the ack's verdict; returns the topics recovered. */
  #replay(plan: JoinPlan, key: string, pattern: boolean, recover: RecoverPosition, pass: FilterFn | null): Set<string> {
    const recovered = new Set<string>();
    const wanted: [string, number][] = pattern
      ? Object.entries(recover.topics ?? {}).filter(([t]) => matches(key, t))
      : [[key, recover.seq ?? 0]];
    let replayed = 0;
    // An epoch from another process (a restart) can be recovered nowhere.
    let reason: RecoveryFailure | undefined = this.#ours(recover.epoch) ? undefined : "epoch";
    for (const [topic, pos] of wanted) {
      const r = this.#recover(topic, pos, recover.epoch);
      if (r.ok) {
        recovered.add(topic);
        // Counted after the filter: `replayed` is what the subscriber will receive.
        for (const p of r.pubs) {
          if (pass && !pass(p.tags)) continue;
          plan.backlog.push(p);
          replayed++;
        }
      } else reason ??= r.reason;
    }
    // Replay goes topic by topic: order is guaranteed within a topic, not across topics.
    plan.ack.recovery = reason ? { ok: false, replayed, reason } : { ok: true, replayed };
    return recovered;
  }

  #recover(topic: string, pos: number, epoch: string): { ok: true; pubs: Publication[] } | { ok: false; reason: RecoveryFailure } {
    const t = this.topics.get(topic);
    // A topic not held, while the client saw some of it, was evicted since (or is from before a restart).
    if (t === undefined) return pos > 0 || !this.#ours(epoch) ? { ok: false, reason: "epoch" } : { ok: true, pubs: [] };
    if (epoch !== t.epoch) return { ok: false, reason: "epoch" };
    const latest = t.seq;
    if (pos >= latest) return { ok: true, pubs: [] };
    const pubs = t?.history?.since(pos, latest) ?? null;
    return pubs ? { ok: true, pubs } : { ok: false, reason: "window" };
  }

  /** Whether an epoch was handed out by this bus (its base, or a generation after evictions). */
  #ours(epoch: string): boolean {
    const cur = this.bus.epoch;
    const dot = cur.indexOf(".");
    const base = dot < 0 ? cur : cur.slice(0, dot);
    return epoch === base || epoch.startsWith(`${base}.`);
  }

  /**
   * Sends the plan's backlog, then joins the native channel. Both happen in
   * one turn of the event loop, so no live publication can fall between the
   * backlog and the first live frame, or arrive before the backlog.
   */
  join(s: Session, plan: JoinPlan): void {
    if (plan.already) return;
    // Held publications were published before the ack: they go to those already subscribed, not to this one.
    this.coalescer.flushAll();
    const ch = this.index.getOrCreate(plan.base, plan.filter);
    ch.members.add(s);
    if (ch.members.size === 1) this.bus.interest?.(ch.base, true);
    // The channel's own key string, shared by its subscribers, not the one decoded from this frame.
    s.subs.set(ch.key, ch);
    if (ch.policy.limitBytes < s.minLimit) s.minLimit = ch.policy.limitBytes;
    this.guard.rewatch(s, s.socket!.bufferedAmount());
    for (const pub of plan.backlog) s.send(pub.frame(s.json));
    this.counters.deliveries += plan.backlog.length;
    s.socket!.subscribe(ch.native(s.json, s.batch));
    ch.countNative(s.json, +1, s.batch);
  }

  unsubscribe(s: Session, topic: string, filter?: Filter): void {
    const key = ChannelIndex.keyOf(topic, filter);
    const ch = s.subs.get(key);
    if (!ch) throw new ProtocolError(ErrorCode.NOT_SUBSCRIBED, `not subscribed to '${topic}'${filter ? " with that filter" : ""}`);
    this.#leave(s, ch, true);
    s.recomputeMinLimit();
  }

  /** Ends one subscription of a live session. */
  leave(s: Session, ch: Channel): void {
    this.#leave(s, ch, true);
    s.recomputeMinLimit();
  }

  /** Drops every subscription of a closing session. The socket is gone: no native calls. */
  detach(s: Session): void {
    for (const ch of s.subs.values()) this.#leave(s, ch, false);
  }

  #leave(s: Session, ch: Channel, socketAlive: boolean): void {
    // Held publications were published while it was subscribed: it gets them first.
    if (socketAlive) this.coalescer.flushAll();
    s.subs.delete(ch.key);
    if (ch.lagging.has(s)) this.guard.release(s, ch);
    else {
      if (socketAlive) s.socket?.unsubscribe(ch.native(s.json, s.batch));
      ch.countNative(s.json, -1, s.batch);
    }
    ch.members.delete(s);
    if (ch.members.size === 0) this.bus.interest?.(ch.base, false);
    this.index.release(ch);
  }
}
