/**
 * `NatsBus`: the Bus over NATS JetStream, so several tickgate nodes share
 * topics with one numbering.
 *
 * Writing: a node publishes a draft to `tgin.<name>.<topic>` with the
 * topic's next `seq` in a header and `Nats-Expected-Last-Subject-Sequence`
 * set to the stream sequence of the topic's last message. JetStream stores
 * it only if no other writer got there first; a refused writer re-reads the
 * topic's last message and retries. So a topic's seqs are contiguous and no
 * two writers (even after a split brain) ever store the same seq. Cost: one
 * JetStream round trip per write; a node has one write in flight per topic
 * and sends what queued meanwhile as one batch (wire.ts); contention costs a
 * retry.
 *
 * Reading: the stream republishes every stored message, in stream order, to
 * `tg.<name>.<topic>`. A node subscribes there (core NATS) only for the
 * topics and patterns its own clients hold (`warm`/`interest`), decodes each
 * message once and hands it to the broker, which fans it out natively as on
 * one node. A node that sees a hole in a topic's seqs (it was disconnected,
 * or just gained interest) reads the missing messages from the stream before
 * delivering anything later, so the broker's history and retained values
 * for a subscribed topic are exactly the stream's.
 *
 * While the connection to NATS is down, a publication waits for the
 * reconnect at most `publishTimeoutMs`, then is refused with
 * `BUS_UNAVAILABLE`; the client library reconnects by itself and topics are
 * caught up from the stream on reconnect.
 * @module
 */
import { connect, type MsgHdrs, type NatsConnection, type Subscription, type Msg } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { Bus, BusNode, Draft } from "../core/bus.ts";
import { ProtocolError } from "../core/errors.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { matches } from "../protocol/topic.ts";
import { NatsServices } from "./services.ts";
import { ensureStream } from "./stream.ts";
import { Subjects } from "./subjects.ts";
import { MAX_BATCH, MAX_BATCH_BYTES, decode, encode, firstSeq, lastSeq } from "./wire.ts";

export interface NatsBusOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Cluster name: nodes with the same name share topics. Default `tickgate`. */
  name?: string;
  /** Messages kept per topic in the stream; use the deepest `historySize` of any policy. Default 1000. */
  keepPerTopic?: number;
  /** Stream replicas (3 on a 3-server NATS cluster). Default 1. */
  replicas?: number;
  /** How long one publication may take, retries included, before `BUS_UNAVAILABLE`. Default 5000 ms. */
  publishTimeoutMs?: number;
  /** How often a node announces itself to the others (stats view, lost-node detection). Default 1000 ms. */
  heartbeatMs?: number;
}

interface TopicState {
  /** Last seq handed to the node, and its stream sequence. */
  seq: number;
  stream: number;
  /** Non-null while the topic is being caught up from the stream: live messages wait here. */
  queue: Msg[] | null;
}

interface Waiting {
  draft: Draft;
  resolve(seq: number): void;
  reject(e: unknown): void;
}

interface Last {
  seq: number;
  stream: number;
}

const WRONG_LAST_SEQUENCE = 10071;
const DEFAULT_TIMEOUT_MS = 5000;
const READ_TIMEOUT_MS = 2000;

function unavailable(why: string, cause?: unknown): ProtocolError {
  const e = new ProtocolError(ErrorCode.BUS_UNAVAILABLE, `publication refused: ${why}; nothing was acknowledged, retry later`);
  if (cause !== undefined) (e as { cause?: unknown }).cause = cause;
  return e;
}

export class NatsBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #subjects: Subjects;
  readonly #timeoutMs: number;
  #node: BusNode | null = null;
  #up = true;
  #closed = false;
  /** Writer side: the last stored message per topic as this node last saw it. */
  readonly #last = new Map<string, Last>();
  /** Per-topic queues of drafts waiting for the write in flight; absent when none is in flight. */
  readonly #queues = new Map<string, Waiting[]>();
  /** Reader side: per-topic delivery state for topics this node receives. */
  readonly #topics = new Map<string, TopicState>();
  /** NATS subscriptions per local key (topic or pattern), with the broker's reference count. */
  readonly #subs = new Map<string, { sub: Subscription; refs: number }>();
  readonly #warming = new Map<string, Promise<void>>();
  #waiters: { state: "connected" | "disconnected"; resolve: () => void }[] = [];
  /** Presence, commands, requests and the stats view shared with the other nodes. */
  readonly cluster: NatsServices;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    subjects: Subjects,
    readonly epoch: string,
    timeoutMs: number,
    o: NatsBusOptions,
  ) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc, { timeout: timeoutMs });
    this.cluster = new NatsServices(nc, this.#js, jsm, { name: subjects.name, replicas: o.replicas ?? 1, heartbeatMs: o.heartbeatMs });
    this.#subjects = subjects;
    this.#timeoutMs = timeoutMs;
    void this.#watch();
  }

  /** Connects, creates or updates the cluster's stream, and reads the epoch. */
  static async connect(o: NatsBusOptions): Promise<NatsBus> {
    const subjects = new Subjects(o.name ?? "tickgate");
    const timeoutMs = o.publishTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const nc = await connect({
      servers: o.servers,
      name: `tickgate-${subjects.name}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    try {
      // Reads are retried within the publish timeout, so one may give up early.
      const jsm = await jetstreamManager(nc, { timeout: Math.min(timeoutMs, READ_TIMEOUT_MS) });
      const epoch = await ensureStream(jsm, subjects, { keepPerTopic: o.keepPerTopic ?? 1000, replicas: o.replicas ?? 1, setupTimeoutMs: Math.max(10_000, timeoutMs) });
      return new NatsBus(nc, jsm, subjects, epoch, timeoutMs, o);
    } catch (e) {
      await nc.close();
      throw e;
    }
  }

  /** Whether the connection to NATS is up (publications are accepted). */
  get connected(): boolean {
    return this.#up;
  }

  /** Resolves when the connection to NATS is (or next becomes) `state`; for tests and health checks. */
  until(state: "connected" | "disconnected"): Promise<void> {
    if (this.#up === (state === "connected")) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ state, resolve }));
  }

  async attach(node: BusNode): Promise<void> {
    if (this.#node && this.#node !== node) throw new Error("a NatsBus serves one node; give each node its own");
    this.#node = node;
  }

  /** Leaves NATS: the node's subscriptions go, and the connection is drained. */
  async detach(node: BusNode): Promise<void> {
    if (this.#node !== node) return;
    this.#node = null;
    await this.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Anything waiting for the connection gives up now.
    for (const w of this.#waiters.splice(0)) w.resolve();
    for (const { sub } of this.#subs.values()) sub.unsubscribe();
    this.#subs.clear();
    // Drain lets in-flight publications finish; bounded, since NATS may be gone.
    const drained = this.#nc.drain().catch(() => undefined);
    const timer = new Promise<void>((r) => setTimeout(r, 2000).unref?.());
    await Promise.race([drained, timer]);
    if (!this.#nc.isClosed()) await this.#nc.close();
  }

  publish(draft: Draft): Promise<number> {
    if (this.#closed) return Promise.reject(unavailable("the bus is closed"));
    return new Promise((resolve, reject) => {
      const w: Waiting = { draft, resolve, reject };
      const q = this.#queues.get(draft.topic);
      if (q) q.push(w);
      else {
        const fresh = [w];
        this.#queues.set(draft.topic, fresh);
        void this.#drain(draft.topic, fresh);
      }
    });
  }

  /**
   * One write in flight per topic per node: what queues up meanwhile goes
   * in the next write, as one batch, so a node never contends with itself
   * and a hot topic is not held to one publication per round trip.
   */
  async #drain(topic: string, q: Waiting[]): Promise<void> {
    while (q.length > 0) {
      let n = 0;
      let bytes = 0;
      while (n < q.length && n < MAX_BATCH && (n === 0 || bytes + q[n]!.draft.payload.raw!.length <= MAX_BATCH_BYTES)) bytes += q[n++]!.draft.payload.raw!.length;
      const batch = q.splice(0, n);
      try {
        const first = await this.#write(topic, batch.map((w) => w.draft));
        batch.forEach((w, i) => w.resolve(first + i));
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
    this.#queues.delete(topic);
  }

  /** Stores `drafts` as the topic's next publications; resolves to the first one's seq. */
  async #write(topic: string, drafts: Draft[]): Promise<number> {
    const subject = this.#subjects.in(topic);
    // One id per write: a retry after a lost ack is recognised by JetStream
    // as a duplicate instead of being stored twice.
    const msgID = crypto.randomUUID();
    const deadline = Date.now() + this.#timeoutMs;
    let sent = null as Last | null;
    for (let attempt = 0; ; attempt++) {
      if (!this.#up) {
        // Reconnecting (to this server or, in a NATS cluster, another one):
        // wait for it within the publish timeout, then refuse.
        const left = deadline - Date.now();
        if (left <= 0 || this.#closed) throw unavailable("NATS is unreachable");
        await Promise.race([this.until("connected"), sleep(left)]);
        continue;
      }
      let last = this.#last.get(topic);
      if (!last) {
        try {
          last = await this.#fetchLast(topic);
        } catch (e) {
          // The stream's leader may be moving: read again within the deadline.
          if (Date.now() >= deadline || this.#closed) throw unavailable("JetStream could not be read", e);
          await sleep(Math.min(200, 20 * (attempt + 1)));
          continue;
        }
      }
      const seq: number = sent !== null ? sent.seq : last.seq + 1;
      const { h, body } = encode(drafts, seq);
      try {
        // One attempt gets a share of the budget, not all of it: a request that
        // reached a stream leader just killed is never answered, and waiting the
        // whole budget on it would leave no time to retry with the new leader.
        const attemptMs = Math.max(1, Math.min(deadline - Date.now(), Math.max(ATTEMPT_MIN_MS, this.#timeoutMs / 4)));
        const ack = await this.#js.publish(subject, body, { headers: h, msgID, expect: { lastSubjectSequence: sent?.stream ?? last.stream }, timeout: attemptMs });
        this.#last.set(topic, { seq: seq + drafts.length - 1, stream: ack.seq });
        return seq;
      } catch (e) {
        if (apiCode(e) === WRONG_LAST_SEQUENCE) {
          // Another writer stored the topic's next message first: re-read and renumber.
          this.#last.delete(topic);
          sent = null;
          if (Date.now() < deadline) continue;
          throw unavailable("the topic is contended beyond the publish timeout", e);
        }
        // Timeout or no responders (stream leader moving): the message may have
        // been stored; the retry keeps its seq and msgID, so it is stored once.
        sent = { seq, stream: sent?.stream ?? last.stream };
        if (Date.now() >= deadline || this.#closed) throw unavailable("JetStream did not acknowledge in time", e);
        await sleep(Math.min(200, 20 * (attempt + 1)));
      }
    }
  }

  /** The topic's last stored message (seq 0 when it has none). */
  async #fetchLast(topic: string): Promise<Last> {
    const m = await this.#jsm.streams.getMessage(this.#subjects.stream, { last_by_subj: this.#subjects.in(topic) });
    const last = m ? { seq: lastSeq(m.header), stream: m.seq } : { seq: 0, stream: 0 };
    this.#last.set(topic, last);
    return last;
  }

  /**
   * Makes this node current on a topic or pattern before a subscription to it
   * is prepared: subscribes in NATS, then catches every matching topic up
   * from the stream (history, retained values, seq). Returns `undefined`
   * when the node already receives the key, so a subscribe stays synchronous.
   */
  warm(key: string): Promise<void> | undefined {
    if (this.#subs.has(key) && !this.#warming.has(key)) return undefined;
    let w = this.#warming.get(key);
    if (!w) {
      w = this.#warm(key).finally(() => this.#warming.delete(key));
      this.#warming.set(key, w);
    }
    return w;
  }

  async #warm(key: string): Promise<void> {
    if (!this.#up) throw unavailable("NATS is unreachable");
    if (!this.#subs.has(key)) {
      const sub = this.#nc.subscribe(this.#subjects.out(key), { callback: (err, m) => {
        if (!err) this.#receive(m);
      } });
      this.#subs.set(key, { sub, refs: 0 });
      // The server must hold the subscription before the stream is read, or a
      // message stored in between would be neither read nor received.
      await this.#nc.flush();
    }
    const topics = key.includes("*") || key.endsWith(">") ? await this.#topicsMatching(key) : [key];
    await Promise.all(topics.map((t) => this.#catchUp(t)));
  }

  /** The broker's local interest in a key began (`on`) or ended; NATS interest follows it. */
  interest(key: string, on: boolean): void {
    const e = this.#subs.get(key);
    if (on) {
      if (e) e.refs++;
      else void this.warm(key)?.then(() => this.interest(key, true), noop);
      return;
    }
    if (!e || --e.refs > 0) return;
    e.sub.unsubscribe();
    this.#subs.delete(key);
  }

  async #topicsMatching(pattern: string): Promise<string[]> {
    const info = await this.#jsm.streams.info(this.#subjects.stream, { subjects_filter: this.#subjects.in(pattern) });
    return Object.keys(info.state.subjects ?? {}).map((s) => this.#subjects.topicOf(s));
  }

  #state(topic: string): TopicState {
    let st = this.#topics.get(topic);
    if (!st) {
      st = { seq: 0, stream: 0, queue: null };
      this.#topics.set(topic, st);
    }
    return st;
  }

  #receive(m: Msg): void {
    const topic = this.#subjects.topicOf(m.subject);
    const st = this.#state(topic);
    if (st.queue) {
      st.queue.push(m);
      return;
    }
    const h = m.headers!;
    if (lastSeq(h) <= st.seq) return; // already delivered (read from the stream during a catch-up)
    if (firstSeq(h) > st.seq + 1) {
      // A hole: read it from the stream first, this message waits its turn.
      void this.#catchUp(topic, m).catch(noop);
      return;
    }
    this.#deliver(topic, st, h, m.data, streamSeqOf(h));
  }

  /**
   * Delivers every stored message of `topic` after the last one delivered,
   * then whatever arrived live meanwhile. Reads one message per round trip.
   */
  async #catchUp(topic: string, first?: Msg): Promise<void> {
    const st = this.#state(topic);
    if (st.queue) {
      if (first) st.queue.push(first);
      return;
    }
    st.queue = first ? [first] : [];
    for (let attempt = 0; ; attempt++) {
      try {
        for (;;) {
          const m = await this.#jsm.direct.getMessage(this.#subjects.stream, { next_by_subj: this.#subjects.in(topic), seq: st.stream + 1 });
          if (!m) break;
          if (lastSeq(m.header) > st.seq) this.#deliver(topic, st, m.header, m.data, m.seq);
          else st.stream = m.seq;
        }
        break;
      } catch (e) {
        // NATS or the stream's leader is away: what waits here stays queued
        // (dropping it could lose the topic's tail) and the read is tried
        // again once connected.
        if (this.#closed) {
          st.queue = null;
          throw e;
        }
        await this.until("connected");
        await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
      }
    }
    const q = st.queue;
    st.queue = null;
    for (const m of q) this.#receive(m);
  }

  /** Hands the node every publication of a message it has not had yet. */
  #deliver(topic: string, st: TopicState, h: MsgHdrs, data: Uint8Array, streamSeq: number): void {
    const pubs = decode(topic, h, data, this.epoch);
    const seq = pubs[pubs.length - 1]!.seq;
    const from = st.seq;
    st.seq = seq;
    st.stream = streamSeq;
    const last = this.#last.get(topic);
    if (!last || last.stream < streamSeq) this.#last.set(topic, { seq, stream: streamSeq });
    for (const p of pubs) if (p.seq > from) this.#node?.deliver(p);
  }

  #wake(state: "connected" | "disconnected"): void {
    const ready = this.#waiters.filter((w) => w.state === state);
    this.#waiters = this.#waiters.filter((w) => w.state !== state);
    for (const w of ready) w.resolve();
  }

  /** Follows the connection: refuse while down, catch up every received topic once back. */
  async #watch(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === "disconnect") {
        this.#up = false;
        this.#wake("disconnected");
        this.cluster.disconnected();
      } else if (s.type === "reconnect") {
        this.#up = true;
        this.#wake("connected");
        this.cluster.reconnected();
        // Writers re-read: another node may have written while we were away.
        this.#last.clear();
        const keys = [...this.#subs.keys()];
        const topics = new Set(this.#topics.keys());
        for (const k of keys) if (k.includes("*") || k.endsWith(">")) for (const t of await this.#topicsMatching(k).catch(() => [])) topics.add(t);
        for (const t of topics) if (keys.some((k) => matches(k, t))) void this.#catchUp(t).catch(noop);
      }
    }
  }
}

function streamSeqOf(h: MsgHdrs): number {
  return Number(h.get("Nats-Sequence"));
}

function apiCode(e: unknown): number | undefined {
  const err = e as { code?: unknown; api_error?: { err_code?: number } };
  if (typeof err?.api_error?.err_code === "number") return err.api_error.err_code;
  return typeof err?.code === "number" ? err.code : undefined;
}

/** Shortest wait for one JetStream write attempt (an ack on a loaded machine can take this long). */
const ATTEMPT_MIN_MS = 1000;
const noop = (): void => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
