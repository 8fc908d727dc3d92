/**
 * Scenario load client: tickgate subscribers over raw TCP (bench/load's
 * WsConn frame parser and tick layout), extended for what the fan-out
 * client does not do: many topics and wildcards, filtered subscriptions,
 * token-authenticated connections, and subscribers that stop reading.
 *
 * Streams. The server publishes tick n to stream (n-1) % K (a topic of
 * `--topics K`, or a filter group of `--filters K --filter-mode one`), so
 * stream s receives its c-th tick as n = (c-1)·K + s + 1. Each subscription
 * checks its streams' counters for gaps and duplicates, and the credit it
 * reports is the highest n below which it has everything it was due.
 *
 * Control (JSON lines, as bench/load/client.ts): mark, report, final
 * {published}, pause / resume (the slow subscribers), exit.
 * Args: --port P [--credit-port C] --subs N [--topics K] [--topics-per-sub M]
 *       [--wildcards W] [--filters F --filter-mode all|one] [--auth-secret S]
 *       [--slow-every E] [--sample K] [--credit-step S]
 * @module
 */
import { mintToken } from "../../../src/core/auth/mint.ts";
import { packr, unpackr } from "../../../src/protocol/codec.ts";
import { WsConn, type FrameSink } from "../../load/ws-conn.ts";
import { argInt, argValue } from "../../lib/args.ts";
import { isPublication, readN, readTs, tailOk, TOPIC, wallMs } from "../../lib/tick.ts";
import { latencyOf, newHistogram, recordUs } from "./latency.ts";

const argv = process.argv;
const port = argInt(argv, "--port", 0, 1, 65535);
const creditPort = argInt(argv, "--credit-port", 0, 0, 65535);
// 0 with --wildcards: every connection on the pattern (the linger scenario's `prices.>` readers).
const subs = argInt(argv, "--subs", 1000, 0, 60_000);
const topics = argInt(argv, "--topics", 1, 1, 1_000_000);
const perSub = argInt(argv, "--topics-per-sub", 1, 1, 1000);
const wildcards = argInt(argv, "--wildcards", 0, 0, 10_000);
const filters = argInt(argv, "--filters", 0, 0, 10_000);
const filterMode = argValue(argv, "--filter-mode", "all");
const secret = argValue(argv, "--auth-secret", "");
const slowEvery = argInt(argv, "--slow-every", 0, 0, 1_000_000);
const sampleEvery = argInt(argv, "--sample", 16);
const creditStep = argInt(argv, "--credit-step", 4);
const total = subs + wildcards;
/** Stream modulus: how the server spreads ticks over topics or filter groups. */
const K = topics > 1 ? topics : filters > 0 && filterMode === "one" ? filters : 1;
if (perSub > K && K > 1) throw new Error(`--topics-per-sub ${perSub} exceeds --topics ${K}`);

/** Per-connection subscription state, beside WsConn's own counters. */
class Sub {
  /** Streams this connection is due (sorted); all K for a wildcard. */
  readonly streams: Int32Array;
  /** Last counter seen per stream slot. */
  readonly last: Float64Array;
  acksDue = 0;
  /** Highest tick n received, any stream. */
  lastN = 0;
  constructor(
    readonly frames: Uint8Array[],
    streams: number[],
    readonly wildcard: boolean,
    readonly slow: boolean,
  ) {
    this.streams = Int32Array.from(wildcard ? Array.from({ length: K }, (_, s) => s) : streams);
    this.last = new Float64Array(this.streams.length);
  }
  slotOf(s: number): number {
    if (this.wildcard) return s;
    const st = this.streams;
    for (let i = 0; i < st.length; i++) if (st[i] === s) return i;
    return -1;
  }
  /** Highest n below which everything due to this connection has arrived. */
  credit(): number {
    if (this.wildcard || this.streams.length === 1) return this.wildcard ? this.lastN : this.last[0]! * K + this.streams[0]!;
    let min = Infinity;
    for (let i = 0; i < this.streams.length; i++) min = Math.min(min, this.last[i]! * K + this.streams[i]!);
    return min;
  }
}

function subFrame(id: number, topic: string, filter?: { any: string[] }): Uint8Array {
  return packr.pack(filter ? { t: "sub", id, topic, filter } : { t: "sub", id, topic });
}

function planFor(i: number): Sub {
  const slow = slowEvery > 0 && i % slowEvery === slowEvery - 1;
  if (i >= subs) return new Sub([subFrame(1, "bench.t.*")], [], true, slow);
  if (topics > 1) {
    const ks = Array.from({ length: perSub }, (_, j) => (i * perSub + j) % topics).sort((a, b) => a - b);
    return new Sub(ks.map((k, j) => subFrame(j + 1, `bench.t.${k}`)), ks, false, slow);
  }
  if (filters > 0) {
    const g = i % filters;
    return new Sub([subFrame(1, TOPIC, { any: [`g${g}`, "all"] })], [filterMode === "one" ? g : 0], false, slow);
  }
  return new Sub([subFrame(1, TOPIC)], [0], false, slow);
}

const conns: WsConn[] = [];
const plans: Sub[] = [];
const group = () => ({ deliveries: 0, lost: 0, dup: 0, gapFrames: 0, closedConns: 0, hist: newHistogram(), negative: 0 });
const fast = group();
const slowG = group();
let readyCount = 0;
let malformed = 0;
let unexpected = 0;
let errorFrames = 0;
let sampleCountdown = sampleEvery;
let checkedOne = false;
const failures: string[] = [];
const connectStart = performance.now();

function reply(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + "\n");
}

function fail(why: string): void {
  if (failures.length < 5) failures.push(why);
}

/** Decodes one publication fully, once, to prove the tail reading matches the real frame. */
function checkOnce(buf: Uint8Array, start: number, end: number): void {
  checkedOne = true;
  const f = unpackr.unpack(buf.subarray(start, end)) as { data?: { n?: number; ts?: number } };
  if (f.data?.n !== readN(buf, end) || f.data?.ts !== readTs(buf, end)) fail(`frame layout check failed: ${JSON.stringify(f).slice(0, 200)}`);
}

function markReady(c: WsConn): void {
  if (c.ready) return;
  c.ready = true;
  if (++readyCount === total) reply({ ready: true, subs: total, connectMs: Math.round(performance.now() - connectStart) });
}

const sink: FrameSink = {
  frame(c, buf, start, end) {
    const p = plans[c.id]!;
    if (c.ready && end - start > 24 && isPublication(buf, start)) {
      if (!tailOk(buf, end)) {
        malformed++;
        return;
      }
      const n = readN(buf, end);
      const s = K === 1 ? 0 : (n - 1) % K;
      const slot = p.slotOf(s);
      if (slot < 0) {
        unexpected++;
        return;
      }
      const cnt = K === 1 ? n : Math.floor((n - 1) / K) + 1;
      const g = p.slow ? slowG : fast;
      g.deliveries++;
      const last = p.last[slot]!;
      if (cnt > last) {
        g.lost += cnt - last - 1;
        p.last[slot] = cnt;
      } else g.dup++;
      if (n > p.lastN) p.lastN = n;
      if (--sampleCountdown === 0) {
        sampleCountdown = sampleEvery;
        if (recordUs(g.hist, Math.round((wallMs() - readTs(buf, end)) * 1000))) g.negative++;
      }
      if (!checkedOne) checkOnce(buf, start, end);
      return;
    }
    const f = unpackr.unpack(buf.subarray(start, end)) as { t?: string; id?: number; message?: string };
    if (f.t === "welcome") {
      p.acksDue = p.frames.length;
      for (const fr of p.frames) c.send(2, fr);
    } else if (f.t === "ack" && typeof f.id === "number") {
      if (--p.acksDue === 0) markReady(c);
    } else if (f.t === "gap") (p.slow ? slowG : fast).gapFrames++;
    else if (f.t === "error") {
      errorFrames++;
      fail(`error frame: ${f.message}`);
    } else malformed++;
  },
  control(c, op, body) {
    if (op === 9) c.send(10, body);
    else if (op === 8) c.socket?.end();
  },
  failed(c, why) {
    fail(`conn ${c.id}: ${why}`);
    c.socket?.end();
  },
};

// ---- flow-control credit (fast subscribers only: a paused one would stall the publisher) ----
let creditSent = 0;
/** Deliveries between credit reports: per fast subscriber, or per wildcard one when there are only those. */
const creditEvery = creditStep * (subs > 0 ? subs : total);
let nextCreditAt = creditEvery;
const credit = creditPort > 0 ? await Bun.connect({ hostname: "127.0.0.1", port: creditPort, socket: { data() {} } }) : null;

function sendCredit(): void {
  nextCreditAt = fast.deliveries + creditEvery;
  if (!credit) return;
  let min = Infinity;
  for (let i = 0; i < conns.length; i++) {
    const c = conns[i]!;
    const p = plans[i]!;
    if (!c.closed && !p.slow) min = Math.min(min, p.credit());
  }
  if (min !== Infinity && min > creditSent) {
    creditSent = min;
    credit.write(`${min}\n`);
  }
}
// A fallback tick, so a lagging connection that catches up after the last trigger cannot leave the publisher waiting.
const creditTimer = setInterval(sendCredit, 5);

// ---- connections ----
const CONNECT_CONCURRENCY = 64;
for (let i = 0; i < total; i += CONNECT_CONCURRENCY) {
  const batch: Promise<unknown>[] = [];
  for (let j = i; j < Math.min(total, i + CONNECT_CONCURRENCY); j++) {
    const c = new WsConn(j, sink);
    conns.push(c);
    plans.push(planFor(j));
    // Each subscriber its own token, so the server verifies one per connection.
    const path = secret ? `/ws?token=${await mintToken({ sub: `bench-${j}`, subscribe: ["bench.>"], ttlSec: 3600 }, secret)}` : "/ws";
    batch.push(
      Bun.connect<WsConn>({
        hostname: "127.0.0.1",
        port,
        data: c,
        socket: {
          open(s) {
            s.data.socket = s;
            s.write(s.data.upgradeRequest(path, "tickgate.msgpack"));
          },
          data(s, d) {
            s.data.feed(d);
            if (fast.deliveries >= nextCreditAt) sendCredit();
          },
          close(s) {
            if (!s.data.closed) (plans[s.data.id]!.slow ? slowG : fast).closedConns++;
            s.data.closed = true;
          },
          error(s, e) {
            fail(`conn ${s.data.id}: ${e.message}`);
          },
        },
      }),
    );
  }
  await Promise.all(batch);
}

const readyDeadline = setTimeout(() => {
  reply({ error: `only ${readyCount}/${total} subscribers ready after 90 s`, failures });
  process.exit(1);
}, 90_000);

/** Ticks of stream s among the first `published` publications. */
const dueOn = (s: number, published: number) => (published > s ? Math.floor((published - 1 - s) / K) + 1 : 0);

function totals() {
  return {
    t: wallMs(),
    deliveries: fast.deliveries,
    lost: fast.lost,
    dup: fast.dup,
    malformed,
    unexpected,
    gapFrames: fast.gapFrames,
    errorFrames,
    closedConns: fast.closedConns,
    failures,
    slow: { conns: plans.filter((p) => p.slow).length, deliveries: slowG.deliveries, lost: slowG.lost, gapFrames: slowG.gapFrames, closedConns: slowG.closedConns },
  };
}

/** Everything the fast subscribers were due, if it has all arrived. */
function fastMissing(published: number): number {
  let missing = 0;
  for (let i = 0; i < conns.length; i++) {
    const p = plans[i]!;
    if (p.slow || conns[i]!.closed) continue;
    for (let k = 0; k < p.streams.length; k++) missing += Math.max(0, dueOn(p.streams[k]!, published) - p.last[k]!);
  }
  return missing;
}

for await (const line of console) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as { cmd: string; published?: number; timeoutMs?: number };
  switch (cmd.cmd) {
    case "mark":
      clearTimeout(readyDeadline);
      fast.hist.reset();
      slowG.hist.reset();
      fast.negative = slowG.negative = 0;
      reply({ re: "mark", ...totals() });
      break;
    case "report":
      reply({ re: "report", ...totals(), latencyUs: latencyOf(fast.hist, fast.negative), slowLatencyUs: latencyOf(slowG.hist, slowG.negative) });
      break;
    case "pause":
    case "resume": {
      let n = 0;
      for (let i = 0; i < conns.length; i++) {
        if (!plans[i]!.slow) continue;
        if (cmd.cmd === "pause") conns[i]!.socket?.pause();
        else conns[i]!.socket?.resume();
        n++;
      }
      reply({ re: cmd.cmd, conns: n });
      break;
    }
    case "final": {
      // Wait for the tail in flight, then count what never came.
      const published = cmd.published ?? 0;
      const until = performance.now() + (cmd.timeoutMs ?? 3000);
      while (performance.now() < until && fastMissing(published) > 0) await Bun.sleep(10);
      const missing = fastMissing(published);
      const t = totals();
      reply({ re: "final", ...t, missing, lost: t.lost + missing });
      break;
    }
    case "exit":
      clearInterval(creditTimer);
      for (const c of conns) c.socket?.end();
      credit?.end();
      process.exit(0);
    default:
      reply({ re: cmd.cmd, error: `unknown command ${cmd.cmd}` });
  }
}
process.exit(0);
