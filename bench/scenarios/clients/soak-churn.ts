/**
 * The soak's load: everything at once against one tickgate server on
 * loopback, for `--seconds`, then a JSON line of counts. Correct clients
 * (the SDK, HTTP publishers, SSE readers) must see no error and lose
 * nothing; raw TCP peers misbehave on purpose (stop reading, never answer
 * pings) and are only counted.
 *
 *   bun soak-churn.ts --port P --seconds S [--churn 16] [--recoverers 4]
 *                     [--slow 3] [--dead 3] [--sse 2] [--http-rate 20]
 *
 * Stdout: `{"ready":true}` once the steady clients are up, then
 * `{"done":true,...}` (see Totals). Every loop is bounded by the deadline.
 * @module
 */
import { TickgateClient } from "../../../src/client/index.ts";
import { packr } from "../../../src/protocol/codec.ts";
import { argInt, argNumber, argValue } from "../../lib/args.ts";
import { WsConn } from "../../load/ws-conn.ts";

const argv = process.argv;
const PORT = argInt(argv, "--port", 0, 1, 65535);
const SECONDS = argNumber(argv, "--seconds", 60, 1, 86_400);
const CHURN = argInt(argv, "--churn", 16, 0, 1000);
const RECOVERERS = argInt(argv, "--recoverers", 4, 1, 100);
const SLOW = argInt(argv, "--slow", 3, 0, 100);
const DEAD = argInt(argv, "--dead", 3, 0, 100);
const SSE = argInt(argv, "--sse", 2, 0, 100);
const HTTP_RATE = argInt(argv, "--http-rate", 20, 0, 1000);
const TAG = argValue(argv, "--tag", "s");
const WS_URL = `ws://127.0.0.1:${PORT}/ws`;
const HTTP = `http://127.0.0.1:${PORT}`;
const REC_TOPICS = ["soak.rec.0", "soak.rec.1", "soak.rec.2", "soak.rec.3"];
const HTTP_TOPICS = ["soak.http.0", "soak.http.1"];
const FIRE = "soak.fire";

const deadline = performance.now() + SECONDS * 1000;
const running = () => performance.now() < deadline;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

const t = {
  wsOpened: 0,
  churnCycles: 0,
  subscriptions: 0,
  topicsCreated: 0,
  published: 0,
  httpPublished: 0,
  recovery: { reconnects: 0, delivered: 0, lost: 0, dup: 0, gapEvents: 0, epochChanges: 0, tailMissing: 0 },
  sse: { streams: 0, delivered: 0, lost: 0, dup: 0 },
  slow: { started: 0, closedByServer: 0, closedByUs: 0 },
  dead: { started: 0, closedByServer: 0, closedByUs: 0 },
  /** Errors seen by correct clients: SDK `error` events, refused requests, HTTP non-2xx, SSE `error` events. */
  errors: 0,
  errorSamples: [] as string[],
};

function error(where: string, what: unknown): void {
  t.errors++;
  if (t.errorSamples.length < 20) t.errorSamples.push(`${where}: ${what instanceof Error ? `${(what as { code?: string }).code ?? what.name} ${what.message}` : String(what)}`);
}

function sdk(where: string): TickgateClient {
  const c = new TickgateClient(WS_URL, { fallback: false, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
  c.on("error", (e) => error(where, e));
  t.wsOpened++;
  return c.connect();
}

/** Per-topic sequence check: each seq once, in order, from the first one seen. */
class SeqCheck {
  readonly last = new Map<string, { epoch: string; seq: number }>();
  constructor(readonly into: { delivered: number; lost: number; dup: number; epochChanges?: number }) {}
  see(topic: string, epoch: string, seq: number): void {
    this.into.delivered++;
    const prev = this.last.get(topic);
    if (prev && prev.epoch !== epoch) {
      if (this.into.epochChanges !== undefined) this.into.epochChanges++;
    } else if (prev && seq <= prev.seq) {
      this.into.dup++;
      return;
    } else if (prev && seq > prev.seq + 1) this.into.lost += seq - prev.seq - 1;
    this.last.set(topic, { epoch, seq });
  }
}

// ---- steady publishers: recovery topics (acked, so the last seq is known) and the firehose ----

const lastPublished = new Map<string, number>();
async function recoveryPublisher(): Promise<void> {
  const c = sdk("publisher");
  await c.ready(10_000);
  for (let n = 0; running(); n++) {
    const topic = REC_TOPICS[n % REC_TOPICS.length]!;
    try {
      const seq = await c.publish(topic, { n, at: Date.now() }, { ack: true });
      if (typeof seq === "number") lastPublished.set(topic, Math.max(seq, lastPublished.get(topic) ?? 0));
      t.published++;
    } catch (e) {
      error("publisher", e);
    }
    await sleep(20);
  }
  c.close();
}

async function firehose(): Promise<void> {
  const c = sdk("firehose");
  await c.ready(10_000);
  // 16 KiB at ~40/s: a paused reader fills the loopback socket buffers (several MiB) in seconds.
  const blob = "x".repeat(16 * 1024);
  while (running()) {
    try {
      await c.publish(FIRE, { blob }, { ack: true });
      t.published++;
    } catch (e) {
      error("firehose", e);
    }
    await sleep(20);
  }
  c.close();
}

// ---- recovering subscribers: dropped and reconnected again and again, nothing lost ----

const recoverers: { c: TickgateClient; check: SeqCheck }[] = [];
async function recoverer(i: number): Promise<void> {
  const c = sdk(`recoverer ${i}`);
  const check = new SeqCheck(t.recovery);
  recoverers.push({ c, check });
  c.on("gap", () => t.recovery.gapEvents++);
  const subs = REC_TOPICS.map((topic) => c.subscribe(topic, (_d, m) => check.see(m.topic, m.epoch, m.seq)));
  t.subscriptions += subs.length;
  await c.ready(10_000);
  await Promise.all(subs.map((s) => s.ready(10_000)));
  while (running()) {
    await sleep(between(1000, 4000));
    if (!running()) break;
    // A normal close then connect: the subscriptions resume where they left off, from history.
    c.close();
    await sleep(between(100, 1500));
    c.connect();
    t.recovery.reconnects++;
  }
}

// ---- connection, subscription and topic churn ----

let topicSeq = 0;
async function churner(i: number): Promise<void> {
  while (running()) {
    const c = sdk(`churn ${i}`);
    try {
      await c.ready(10_000);
      const own = `soak.tmp.${TAG}.${topicSeq++}`;
      const sub = c.subscribe(own, () => {});
      const shared = c.subscribe(REC_TOPICS[i % REC_TOPICS.length]!, () => {});
      t.subscriptions += 2;
      await Promise.all([sub.ready(10_000), shared.ready(10_000)]);
      // A topic that gets one publication and is never used again.
      await c.publish(`soak.tmp.${TAG}.${topicSeq++}`, { i }, { ack: true });
      t.topicsCreated++;
      t.published++;
      await sleep(between(50, 1500));
      if (Math.random() < 0.5) sub();
    } catch (e) {
      error(`churn ${i}`, e);
    }
    c.close();
    t.churnCycles++;
  }
}

// ---- raw TCP peers: slow readers (stop reading) and dead ones (never answer a ping) ----

function rawPeer(kind: "slow" | "dead", topic: string, lifetimeMs: number): Promise<void> {
  const g = t[kind];
  g.started++;
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = (byServer: boolean) => {
      if (done) return;
      done = true;
      if (byServer) g.closedByServer++;
      else g.closedByUs++;
      resolve();
    };
    const conn = new WsConn(g.started, {
      frame: () => {},
      control: () => {}, // a dead peer: pings go unanswered
      failed: (_c, why) => {
        error(`${kind} peer upgrade`, why);
        conn.socket?.end();
        finish(true);
      },
    });
    const timer = setTimeout(() => {
      finish(false);
      conn.socket?.terminate();
    }, Math.min(lifetimeMs, Math.max(0, deadline - performance.now())));
    void Bun.connect<WsConn>({
      hostname: "127.0.0.1",
      port: PORT,
      data: conn,
      socket: {
        open(s) {
          s.data.socket = s;
          s.write(s.data.upgradeRequest("/ws", "tickgate.msgpack"));
        },
        data(s, d) {
          const was = s.data.upgraded;
          s.data.feed(d);
          if (!was && s.data.upgraded) {
            s.data.send(2, packr.pack({ t: "sub", id: 1, topic }));
            if (kind === "slow") setTimeout(() => s.pause(), 200); // the ack and snapshot first, then nothing
          }
        },
        close() {
          clearTimeout(timer);
          finish(true);
        },
        error() {},
      },
    }).catch((e) => {
      clearTimeout(timer);
      error(`${kind} peer connect`, e);
      finish(true);
    });
  });
}

async function rawLoop(kind: "slow" | "dead"): Promise<void> {
  while (running()) await rawPeer(kind, kind === "slow" ? FIRE : REC_TOPICS[0]!, 60_000);
}

// ---- HTTP publishes and SSE streams ----

async function httpPublisher(): Promise<void> {
  for (let n = 0; running(); n++) {
    const topic = HTTP_TOPICS[n % HTTP_TOPICS.length]!;
    try {
      const res = await fetch(`${HTTP}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic, data: { n } }) });
      if (res.ok) t.httpPublished++;
      else error("http publish", `${res.status} ${await res.text()}`);
    } catch (e) {
      error("http publish", e);
    }
    await sleep(1000 / HTTP_RATE);
  }
}

async function sseStream(i: number): Promise<void> {
  while (running()) {
    const check = new SeqCheck(t.sse);
    const ac = new AbortController();
    const stop = setTimeout(() => ac.abort(), Math.min(between(2000, 8000), Math.max(0, deadline - performance.now())));
    t.sse.streams++;
    try {
      const res = await fetch(`${HTTP}/sse?topic=${HTTP_TOPICS[0]}&topic=${REC_TOPICS[i % REC_TOPICS.length]}`, { signal: ac.signal });
      if (!res.ok) error(`sse ${i}`, `${res.status} ${await res.text()}`);
      else {
        let buf = "";
        let event = "";
        const dec = new TextDecoder();
        for await (const chunk of res.body!) {
          buf += dec.decode(chunk as Uint8Array, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl).replace(/\r$/, "");
            buf = buf.slice(nl + 1);
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) {
              const f = JSON.parse(line.slice(5)) as { topic: string; epoch: string; seq: number; code?: string; message?: string };
              if (event === "msg") check.see(f.topic, f.epoch, f.seq);
              else if (event === "error" || event === "gap") error(`sse ${i}`, `${event} ${JSON.stringify(f)}`);
            }
          }
        }
      }
    } catch (e) {
      if (!ac.signal.aborted) error(`sse ${i}`, e);
    }
    clearTimeout(stop);
  }
}

// ---- run ----

const steady = [recoveryPublisher(), firehose(), ...Array.from({ length: RECOVERERS }, (_, i) => recoverer(i))];
await sleep(500);
console.log(JSON.stringify({ ready: true }));
const churn = [
  ...Array.from({ length: CHURN }, (_, i) => churner(i)),
  ...Array.from({ length: SLOW }, () => rawLoop("slow")),
  ...Array.from({ length: DEAD }, () => rawLoop("dead")),
  ...Array.from({ length: SSE }, (_, i) => sseStream(i)),
  ...(HTTP_RATE > 0 ? [httpPublisher()] : []),
];
await Promise.all([...steady, ...churn]);

// Every recoverer reconnects once more and must reach the last acknowledged seq of every topic.
for (const r of recoverers) if (r.c.state !== "connected") r.c.connect();
const settleBy = performance.now() + 15_000;
const behind = () => recoverers.reduce((sum, r) => sum + REC_TOPICS.reduce((s, topic) => s + Math.max(0, (lastPublished.get(topic) ?? 0) - (r.check.last.get(topic)?.seq ?? 0)), 0), 0);
while (behind() > 0 && performance.now() < settleBy) await sleep(50);
t.recovery.tailMissing = behind();
for (const r of recoverers) r.c.close();
console.log(JSON.stringify({ done: true, ...t }));
process.exit(0);
