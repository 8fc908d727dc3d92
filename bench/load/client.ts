/**
 * Load client: N subscribers in one process, counting deliveries, gaps and
 * duplicates per connection (from the tick counter in the payload) and
 * recording publish→receive latency for one delivery in `--sample`.
 * It also sends the server's publish loop its flow-control credit: the
 * highest tick every live subscriber has received.
 *
 * Control: JSON lines on stdin, replies on stdout (see bench/fanout.ts).
 * Args: --port P --credit-port C --subs N --server NAME (from bench/lib/peers.ts)
 *       [--sample K] [--credit-step S]
 * How to subscribe and where the tick sits in a frame: bench/load/protocols.
 * @module
 */
import { build } from "hdr-histogram-js";
import { argInt, argValue } from "../lib/args.ts";
import { peer } from "../lib/peers.ts";
import { wallMs } from "../lib/tick.ts";
import { protocolFor } from "./protocols/index.ts";
import { WsConn, type FrameSink } from "./ws-conn.ts";

const argv = process.argv;
const port = argInt(argv, "--port", 0, 1, 65535);
const creditPort = argInt(argv, "--credit-port", 0, 1, 65535);
const subs = argInt(argv, "--subs", 1000, 1, 60_000);
// A server's name from bench/lib/peers.ts; its `protocol` says how to subscribe.
const serverName = argValue(argv, "--server", "tickgate");
const sampleEvery = argInt(argv, "--sample", 16);
const creditStep = argInt(argv, "--credit-step", 4);

const MAX_LATENCY_US = 60_000_000;
const hist = build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_LATENCY_US, numberOfSignificantValueDigits: 3, autoResize: false });

const conns: WsConn[] = [];
const connectStart = performance.now();
let deliveries = 0;
let readyCount = 0;
let malformed = 0;
let negativeLatency = 0;
let sampleCountdown = sampleEvery;
let gapFrames = 0;
let errorFrames = 0;
let closedConns = 0;
const failures: string[] = [];

function reply(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + "\n");
}

const protocol = protocolFor(peer(serverName).protocol, {
  deliver(c, n) {
    deliveries++;
    c.received++;
    if (n > c.lastN) {
      c.lost += n - c.lastN - 1;
      c.lastN = n;
    } else c.dup++;
    if (--sampleCountdown !== 0) return false;
    sampleCountdown = sampleEvery;
    return true;
  },
  sample(tsMs) {
    const us = Math.round((wallMs() - tsMs) * 1000);
    if (us < 1) negativeLatency++;
    hist.recordValue(us < 1 ? 1 : us > MAX_LATENCY_US ? MAX_LATENCY_US : us);
  },
  ready: markReady,
  malformed: () => void malformed++,
  gap: () => void gapFrames++,
  error(message) {
    errorFrames++;
    if (failures.length < 5) failures.push(message);
  },
  note(message) {
    if (failures.length < 5) failures.push(message);
  },
});

const sink: FrameSink = {
  frame: protocol.frame,
  control(c, op, body) {
    if (op === 9) c.send(10, body);
    else if (op === 8) c.socket?.end();
  },
  failed(c, why) {
    if (failures.length < 5) failures.push(`conn ${c.id}: ${why}`);
    c.socket?.end();
  },
};

function markReady(c: WsConn): void {
  if (c.ready) return;
  c.ready = true;
  if (++readyCount === subs) reply({ ready: true, subs, connectMs: Math.round(performance.now() - connectStart) });
}

// ---- flow-control credit ----
let creditSent = 0;
let nextCreditAt = creditStep * subs;
const credit = await Bun.connect({ hostname: "127.0.0.1", port: creditPort, socket: { data() {} } });

function sendCredit(): void {
  let min = Infinity;
  for (let i = 0; i < conns.length; i++) {
    const c = conns[i]!;
    if (!c.closed && c.lastN < min) min = c.lastN;
  }
  if (min !== Infinity && min > creditSent) {
    creditSent = min;
    credit.write(`${min}\n`);
  }
  nextCreditAt = deliveries + creditStep * subs;
}
// A fallback tick, so a lagging connection that catches up after the last
// trigger cannot leave the publisher waiting forever.
setInterval(sendCredit, 5);

// ---- connections ----
const CONNECT_CONCURRENCY = 64;
for (let i = 0; i < subs; i += CONNECT_CONCURRENCY) {
  const batch: Promise<unknown>[] = [];
  for (let j = i; j < Math.min(subs, i + CONNECT_CONCURRENCY); j++) {
    const c = new WsConn(j, sink);
    conns.push(c);
    batch.push(
      Bun.connect<WsConn>({
        hostname: "127.0.0.1",
        port,
        data: c,
        socket: {
          open(s) {
            s.data.socket = s;
            s.write(s.data.upgradeRequest(protocol.path, protocol.subprotocol));
          },
          data(s, d) {
            s.data.feed(d);
            if (deliveries >= nextCreditAt) sendCredit();
          },
          close(s) {
            if (!s.data.closed) closedConns++;
            s.data.closed = true;
          },
          error(s, e) {
            if (failures.length < 5) failures.push(`conn ${s.data.id}: ${e.message}`);
          },
        },
      }),
    );
  }
  await Promise.all(batch);
}

const readyDeadline = setTimeout(() => {
  reply({ error: `only ${readyCount}/${subs} subscribers ready after 60 s`, failures });
  process.exit(1);
}, 60_000);

function totals() {
  let lost = 0;
  let dup = 0;
  for (const c of conns) {
    lost += c.lost;
    dup += c.dup;
  }
  return { t: wallMs(), deliveries, lost, dup, malformed, gapFrames, errorFrames, closedConns, failures };
}

for await (const line of console) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as { cmd: string; published?: number; timeoutMs?: number };
  switch (cmd.cmd) {
    case "mark":
      clearTimeout(readyDeadline);
      hist.reset();
      negativeLatency = 0;
      reply({ re: "mark", ...totals() });
      break;
    case "report": {
      // A percentile is the top of its HDR bucket and can pass the exact max by < 0.1%
      // (seen at 209 ms under load): cap it there, as the scenario clients do.
      const at = (p: number) => Math.min(hist.getValueAtPercentile(p), hist.maxValue);
      reply({
        re: "report",
        ...totals(),
        latencyUs: {
          samples: hist.totalCount,
          p50: at(50),
          p99: at(99),
          p999: at(99.9),
          max: hist.maxValue,
          mean: Math.round(hist.mean),
          negative: negativeLatency,
        },
      });
      break;
    }
    case "final": {
      // Wait for the tail in flight, then count what never came.
      const published = cmd.published ?? 0;
      const until = performance.now() + (cmd.timeoutMs ?? 3000);
      while (performance.now() < until && conns.some((c) => !c.closed && c.lastN < published)) await Bun.sleep(10);
      let missing = 0;
      for (const c of conns) missing += Math.max(0, published - c.lastN);
      const t = totals();
      reply({ re: "final", ...t, missing, lost: t.lost + missing });
      break;
    }
    case "exit":
      for (const c of conns) c.socket?.end();
      credit.end();
      process.exit(0);
    default:
      reply({ re: cmd.cmd, error: `unknown command ${cmd.cmd}` });
  }
}
process.exit(0);
