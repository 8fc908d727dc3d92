/**
 * Every subscription of one client, and the delivery of publications to
 * their handlers: which subscriptions a topic reaches (cached), the
 * subscriptions' filters, duplicate suppression, handler isolation, and
 * waiting for a subscription's ack.
 * @internal
 * @module
 */
import type { FilterSpec } from "../protocol/filter-core.ts";
import type { PublicationFrame } from "../protocol/wire.ts";
import { ClientErrorCode, TickgateClientError } from "./errors.ts";
import { SubscriptionState, subscriptionKey, type GapInfo, type HandlerEntry, type MessageMeta } from "./subscription.ts";

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

const MATCH_CACHE_LIMIT = 10_000;

/** @internal */
export class SubscriptionRegistry {
  /** By {@link SubscriptionState.key}: topic, or topic and canonical filter. */
  readonly #subs = new Map<string, SubscriptionState>();
  /** Subscriptions a publication's topic reaches; dropped whenever the set changes. */
  readonly #matchCache = new Map<string, SubscriptionState[]>();
  readonly #waiters = new Map<SubscriptionState, Waiter[]>();
  /** Highest seq seen per topic over all subscriptions, so a publication is counted once. */
  readonly #highWater = new Map<string, { epoch: string; seq: number }>();

  /** `where` names the throwing callback, e.g. "handler for 'prices.*'". */
  constructor(readonly onCallbackError: (where: string, e: unknown) => void) {}

  get size(): number {
    return this.#subs.size;
  }

  /** Every subscription to this exact topic or pattern string, with any filter or none. */
  byTopic(topic: string): SubscriptionState[] {
    const out: SubscriptionState[] = [];
    for (const s of this.#subs.values()) if (s.topic === topic) out.push(s);
    return out;
  }

  /** The distinct topic and pattern strings subscribed to (a filtered and an unfiltered one count once). */
  topics(): string[] {
    return [...new Set([...this.#subs.values()].map((s) => s.topic))];
  }

  /** Whether `sub` is still the live subscription for its key (not unsubscribed since). */
  holds(sub: SubscriptionState): boolean {
    return this.#subs.get(sub.key) === sub;
  }

  values(): IterableIterator<SubscriptionState> {
    return this.#subs.values();
  }

  /** Returns the subscription for `topic` and `filter`, and whether it had to be created. */
  obtain(topic: string, filter?: FilterSpec): { sub: SubscriptionState; created: boolean } {
    const key = subscriptionKey(topic, filter);
    const had = this.#subs.get(key);
    if (had) return { sub: had, created: false };
    const sub = new SubscriptionState(topic, filter);
    this.#subs.set(key, sub);
    this.#matchCache.clear();
    return { sub, created: true };
  }

  /** Forgets a subscription; whoever waits for its ack gets `reason`. */
  remove(sub: SubscriptionState, reason: Error): void {
    if (!this.holds(sub)) return;
    this.#subs.delete(sub.key);
    this.#matchCache.clear();
    sub.status = "idle";
    const waiters = this.#waiters.get(sub);
    this.#waiters.delete(sub);
    for (const w of waiters ?? []) w.reject(reason);
  }

  setStatus(status: SubscriptionState["status"]): void {
    for (const sub of this.#subs.values()) sub.status = status;
  }

  /**
   * Hands a publication to the handlers of every acknowledged subscription
   * that covers its topic, passes its filter, and has not had it yet.
   * Returns whether it was new to the client as a whole (for counting).
   *
   * The server filters what a filtered subscription's own channel sends,
   * but a connection also gets a publication once per other subscription
   * it matches, so the filter is checked here too. `unfiltered` says the
   * transport carries every publication of a topic in seq order whatever
   * the filters (SSE, which has no filters): there a publication a filter
   * refuses still moves that subscription's position on, so it resumes
   * from the latest seq rather than its last match.
   */
  deliver(f: PublicationFrame, unfiltered = false): boolean {
    let subs = this.#matchCache.get(f.topic);
    if (subs === undefined) {
      subs = [];
      for (const s of this.#subs.values()) if (s.covers(f.topic)) subs.push(s);
      if (this.#matchCache.size >= MATCH_CACHE_LIMIT) this.#matchCache.clear();
      this.#matchCache.set(f.topic, subs);
    }
    let meta: MessageMeta | undefined;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      // Before its ack a subscription gets nothing: what precedes the ack on
      // the wire belongs to other subscriptions, and would break its recovery.
      if (sub.status !== "active") continue;
      if (sub.pass !== null && !sub.pass(f.tags)) {
        if (unfiltered) sub.accept(f);
        continue;
      }
      if (!sub.accept(f)) continue;
      meta ??= metaOf(f);
      for (const h of sub.handlers) {
        try {
          h.fn(f.data, meta);
        } catch (e) {
          this.onCallbackError(`handler for '${sub.topic}'`, e);
        }
      }
    }
    if (meta === undefined) return false;
    // Several subscriptions may get one publication, at different moments when they replay.
    const hw = this.#highWater.get(f.topic);
    if (hw !== undefined && hw.epoch === f.epoch && f.seq <= hw.seq) return false;
    if (hw === undefined) this.#highWater.set(f.topic, { epoch: f.epoch, seq: f.seq });
    else (hw.epoch = f.epoch), (hw.seq = f.seq);
    return true;
  }

  /** Tells a subscription's `onGap` callbacks. */
  gap(sub: SubscriptionState, info: GapInfo): void {
    for (const h of sub.handlers) {
      if (!h.onGap) continue;
      try {
        h.onGap(info);
      } catch (e) {
        this.onCallbackError(`onGap for '${sub.topic}'`, e);
      }
    }
  }

  /** The server acknowledged `sub`: wake whoever waits in `ready()`. */
  acknowledged(sub: SubscriptionState): void {
    const waiters = this.#waiters.get(sub);
    if (!waiters) return;
    this.#waiters.delete(sub);
    for (const w of waiters) w.resolve();
  }

  waitReady(sub: SubscriptionState, entry: HandlerEntry, timeoutMs: number): Promise<void> {
    if (!sub.handlers.has(entry) || !this.holds(sub)) {
      return Promise.reject(new TickgateClientError(ClientErrorCode.CLOSED, `not subscribed to '${sub.topic}'`));
    }
    if (sub.status === "active") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.#waiters.get(sub);
        if (list) list.splice(list.indexOf(w), 1);
        reject(new TickgateClientError(ClientErrorCode.TIMEOUT, `subscription to '${sub.topic}' not acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
      const w: Waiter = {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      let list = this.#waiters.get(sub);
      if (!list) this.#waiters.set(sub, (list = []));
      list.push(w);
    });
  }

  /**
   * The SSE cursor `<epoch>,<topic> <seq>,...`: the lowest position per
   * topic over all subscriptions, so none of them misses anything.
   */
  cursor(): string | undefined {
    let epoch: string | undefined;
    for (const s of this.#subs.values()) epoch ??= s.epoch;
    if (epoch === undefined) return undefined;
    const low = new Map<string, number>();
    for (const s of this.#subs.values()) {
      if (s.epoch !== epoch) continue;
      for (const [t, seq] of s.positions()) {
        const cur = low.get(t);
        if (cur === undefined || seq < cur) low.set(t, seq);
      }
    }
    return [epoch, ...[...low].map(([t, seq]) => `${t} ${seq}`)].join(",");
  }
}

function metaOf(f: PublicationFrame): MessageMeta {
  const meta: MessageMeta = { topic: f.topic, seq: f.seq, epoch: f.epoch, ts: f.ts };
  if (f.key !== undefined) meta.key = f.key;
  if (f.tags !== undefined && f.tags.length > 0) meta.tags = f.tags;
  return meta;
}
