/**
 * Ingest load: device connections over raw TCP (bench/load's WsConn), each
 * publishing telemetry ticks to `telemetry.d<i>`, plus listener connections
 * subscribed to `telemetry.>` that check every device's counter for gaps
 * and duplicates and record publish→receive latency. HTTP publications
 * (autocannon, to `telemetry.http`) are counted apart.
 *
 * Two servers speak to the same devices: tickgate (`pub` frames over its
 * msgpack subprotocol) and nats-server over its WebSocket listener
 * (`PUB telemetry.d<i> <size>` with the same tick bytes; listeners
 * `SUB telemetry.>`). A tick's counter carries its device: n = k × devices
 * + i for device i's k-th publication, so listeners read both from the
 * tick's fixed tail without decoding anything.
 *
 * Rate 0 is max rate: publications in flight (sent, not yet at the first
 * listener) are kept under `window`, so the run measures serving, not
 * queues. Device frames are prebuilt with a zero mask key (valid WebSocket;
 * the server unmasks as for any key), stamped in place and written as they
 * are: one write per publication, the client's cost kept small.
 *
 * Control (JSON lines): start {rate, maxSeconds, window?, batch?}, mark,
 * report, stop, final {timeoutMs}, exit. Args: --port P --devices D
 * [--listeners L] [--payload BYTES] [--sample K] [--server tickgate|nats]
 * @module
 */
import { packr, unpackr } from "../../../src/protocol/codec.ts";
import { natsProtocol } from "../../load/protocols/nats.ts";
import type { Deliveries } from "../../load/protocols/types.ts";
import { WsConn, clientFrame, type FrameSink } from "../../load/ws-conn.ts";
import { argInt, argValue } from "../../lib/args.ts";
import { isPublication, payloadTemplate, readN, readTs, stamp, tailOk, wallMs } from "../../lib/tick.ts";
import { latencyOf, newHistogram, recordUs } from "./latency.ts";

const argv = process.argv;
const port = argInt(argv, "--port", 0, 1, 65535);
const devices = argInt(argv, "--devices", 1000, 1, 60_000);
const listeners = argInt(argv, "--listeners", 1, 1, 100);
const payloadSize = argInt(argv, "--payload", 100, 62, 60_000);
const sampleEvery = argInt(argv, "--sample", 4);
const server = argValue(argv, "--server", "tickgate");
if (server !== "tickgate" && server !== "nats") throw new Error(`--server must be tickgate or nats, got '${server}'`);
const nats = server === "nats";

const TOPIC_PREFIX = "telemetry.d";
const enc = new TextEncoder();
const PREFIX_BYTES = enc.encode(TOPIC_PREFIX);
const HTTP_TOPIC = enc.encode("telemetry.http");

/** A client WebSocket frame (binary, FIN) around `body`, masked with the zero key. */
const wsFrame = (body: Uint8Array): Uint8Array => clientFrame(0x2, body);

/** Device i's frame, and where its tick ends in it (n and ts are stamped there). */
function deviceFrame(i: number): { frame: Uint8Array; tickEnd: number } {
  const tpl = payloadTemplate(payloadSize);
  let body: Uint8Array;
  let tail = 0;
  if (nats) {
    const head = enc.encode(`PUB ${TOPIC_PREFIX}${i} ${tpl.length}\r\n`);
    body = new Uint8Array(head.length + tpl.length + 2);
    body.set(head, 0);
    body.set(tpl, head.length);
    body.set([13, 10], head.length + tpl.length);
    tail = 2;
  } else {
    // {t:"pub", topic, data}: a fixed header per device, then the tick.
    const head = packr.pack({ t: "pub", topic: `${TOPIC_PREFIX}${i}` });
    body = new Uint8Array(head.length + 5 + tpl.length);
    body.set(head, 0);
    body[0] = head[0]! + 1; // one more map entry: data
    body.set([0xa4, 0x64, 0x61, 0x74, 0x61], head.length);
    body.set(tpl, head.length + 5);
  }
  const frame = wsFrame(body);
  return { frame, tickEnd: frame.length - tail };
}

const devs: WsConn[] = [];
const frames: Uint8Array[] = [];
const tickEnds: number[] = [];
const sent = new Float64Array(devices);
const lastSeen = new Float64Array(devices);
const lis: WsConn[] = [];
const hist = newHistogram();
let negative = 0;
let readyCount = 0;
let deliveries = 0;
/** Deliveries to the first listener: what flow control and loss are counted on. */
let firstDeliveries = 0;
let httpDeliveries = 0;
let lost = 0;
let dup = 0;
let errorFrames = 0;
let malformed = 0;
let shortWrites = 0;
let published = 0;
let sampleCountdown = sampleEvery;
const failures: string[] = [];
const fail = (why: string) => void (failures.length < 5 && failures.push(why));
const reply = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");
const SUB = packr.pack({ t: "sub", id: 1, topic: "telemetry.>" });
const total = devices + listeners;
const connectStart = performance.now();

function markReady(c: WsConn): void {
  if (c.ready) return;
  c.ready = true;
  if (++readyCount === total) reply({ ready: true, server, devices, listeners, connectMs: Math.round(performance.now() - connectStart) });
}

/** One tick at a listener; true when its latency is to be sampled. */
function onTick(c: WsConn, n: number): boolean {
  deliveries++;
  // One listener's view is enough for loss and flow control: the first listener counts.
  if (c.id === devices) {
    firstDeliveries++;
    const d = n % devices;
    const k = (n - d) / devices;
    if (k > lastSeen[d]!) {
      lost += k - lastSeen[d]! - 1;
      lastSeen[d] = k;
    } else dup++;
    if (waiting) resume();
  }
  if (--sampleCountdown !== 0) return false;
  sampleCountdown = sampleEvery;
  return true;
}

function sample(tsMs: number): void {
  if (recordUs(hist, Math.round((wallMs() - tsMs) * 1000))) negative++;
}

/** Whether the topic string at `at` (a msgpack str) starts with `want` (or equals it, `exact`). */
function topicIs(buf: Uint8Array, at: number, end: number, want: Uint8Array, exact: boolean): boolean {
  const h = buf[at]!;
  let len: number;
  let p: number;
  if (h >= 0xa0 && h <= 0xbf) {
    len = h & 0x1f;
    p = at + 1;
  } else if (h === 0xd9) {
    len = buf[at + 1]!;
    p = at + 2;
  } else return false;
  if (len < want.length || (exact && len !== want.length) || p + len > end) return false;
  for (let i = 0; i < want.length; i++) if (buf[p + i] !== want[i]) return false;
  return true;
}

const tickgateSink: FrameSink["frame"] = (c, buf, start, end) => {
  const isListener = c.id >= devices;
  if (isListener && c.ready && isPublication(buf, start)) {
    // {t:"msg", topic: …}: the topic's string header sits 13 bytes in.
    if (!topicIs(buf, start + 13, end, PREFIX_BYTES, false)) {
      if (topicIs(buf, start + 13, end, HTTP_TOPIC, true)) httpDeliveries++;
      return;
    }
    if (!tailOk(buf, end)) return void malformed++;
    const n = readN(buf, end);
    if (!onTick(c, n)) return;
    sample(readTs(buf, end));
    // The sampled ones are decoded whole: the tick's device must be the topic's.
    const f = unpackr.unpack(buf.subarray(start, end)) as { topic: string };
    if (f.topic !== `${TOPIC_PREFIX}${n % devices}`) {
      malformed++;
      fail(`tick of device ${n % devices} arrived on ${f.topic}`);
    }
    return;
  }
  const f = unpackr.unpack(buf.subarray(start, end)) as { t?: string; id?: number; message?: string };
  if (f.t === "welcome") {
    if (isListener) c.send(2, SUB);
    else {
      c.send(2, packr.pack({ t: "hello", client: "device", device: `d${c.id}` }));
      markReady(c);
    }
  } else if (f.t === "ack" && f.id === 1 && isListener) markReady(c);
  else if (f.t === "error") {
    errorFrames++;
    fail(`error frame: ${f.message}`);
  }
};

const natsCounts: Deliveries = {
  deliver: onTick,
  sample,
  ready: markReady,
  malformed: () => void malformed++,
  gap: () => {},
  error(message) {
    errorFrames++;
    fail(message);
  },
  note: fail,
};
const natsListener = natsProtocol(natsCounts, "telemetry.>");
const natsDevice = natsProtocol(natsCounts, null);

const sink: FrameSink = {
  frame: nats ? (c, buf, start, end, op) => (c.id >= devices ? natsListener : natsDevice).frame(c, buf, start, end, op) : tickgateSink,
  control(c, op, body) {
    if (op === 9) c.send(10, body);
    else if (op === 8) c.socket?.end();
  },
  failed(c, why) {
    fail(`conn ${c.id}: ${why}`);
    c.socket?.end();
  },
};

for (let i = 0; i < total; i += 64) {
  const batch: Promise<unknown>[] = [];
  for (let j = i; j < Math.min(total, i + 64); j++) {
    const c = new WsConn(j, sink);
    if (j < devices) {
      devs.push(c);
      const f = deviceFrame(j);
      frames.push(f.frame);
      tickEnds.push(f.tickEnd);
    } else lis.push(c);
    const path = nats ? "/" : j < devices ? "/ws?client=device" : "/ws";
    batch.push(
      Bun.connect<WsConn>({
        hostname: "127.0.0.1",
        port,
        data: c,
        socket: {
          open(s) {
            s.data.socket = s;
            s.write(s.data.upgradeRequest(path, nats ? null : "tickgate.msgpack"));
          },
          data(s, d) {
            s.data.feed(d);
          },
          close(s) {
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

// ---- publishing: round-robin over the devices, paced by the clock or by the window ----
let timer: ReturnType<typeof setInterval> | undefined;
let running = false;
let waiting = false;
let scheduled = false;
let next = 0;
let window = 256;
let batchSize = 64;
let deadline = 0;

function publishOne(): void {
  const d = next;
  next = next + 1 === devices ? 0 : next + 1;
  const f = frames[d]!;
  stamp(f, tickEnds[d]!, ++sent[d]! * devices + d, wallMs());
  const w = devs[d]!.socket!.write(f);
  if (w !== f.length) {
    shortWrites++;
    fail(`device ${d}: wrote ${w} of ${f.length} bytes`);
  }
  published++;
}

/** Max rate: as many as the window allows, `batchSize` per turn. */
function pump(): void {
  scheduled = false;
  if (!running) return;
  if (performance.now() > deadline) return stop();
  const n = Math.min(batchSize, window - (published - firstDeliveries));
  for (let i = 0; i < n; i++) publishOne();
  if (published - firstDeliveries >= window) {
    waiting = true;
    return;
  }
  scheduled = true;
  setImmediate(pump);
}

function resume(): void {
  if (published - firstDeliveries > window >> 1) return;
  waiting = false;
  if (!scheduled) {
    scheduled = true;
    setImmediate(pump);
  }
}

function start(rate: number, maxSeconds: number): void {
  const t0 = performance.now();
  deadline = t0 + maxSeconds * 1000;
  running = true;
  if (rate === 0) {
    scheduled = true;
    setImmediate(pump);
    // A lost publication would keep the window full for ever: this looks again.
    timer = setInterval(() => waiting && published - firstDeliveries < window && resume(), 5);
    return;
  }
  const base = published;
  timer = setInterval(() => {
    const now = performance.now();
    if (now > deadline) return stop();
    const due = Math.floor(((now - t0) * rate) / 1000) - (published - base);
    for (let k = 0; k < due; k++) publishOne();
  }, 2);
}
function stop(): void {
  running = false;
  waiting = false;
  clearInterval(timer);
  timer = undefined;
}

function totals() {
  return { t: wallMs(), deliveries, firstDeliveries, httpDeliveries, published, lost, dup, malformed, shortWrites, errorFrames, gapFrames: 0, closedConns: [...devs, ...lis].filter((c) => c.closed).length, failures };
}

for await (const line of console) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as { cmd: string; rate?: number; maxSeconds?: number; timeoutMs?: number; window?: number; batch?: number };
  switch (cmd.cmd) {
    case "start":
      window = Math.max(1, cmd.window ?? window);
      batchSize = Math.max(1, Math.min(window, cmd.batch ?? batchSize));
      start(cmd.rate ?? 1000, cmd.maxSeconds ?? 30);
      reply({ re: "start" });
      break;
    case "stop":
      stop();
      reply({ re: "stop", published, creditStalls: 0 });
      break;
    case "mark":
      hist.reset();
      negative = 0;
      reply({ re: "mark", ...totals() });
      break;
    case "report":
      reply({ re: "report", ...totals(), latencyUs: latencyOf(hist, negative) });
      break;
    case "final": {
      // Wait for the tail, then count what every device sent and the first listener never saw.
      const until = performance.now() + (cmd.timeoutMs ?? 3000);
      const missing = () => sent.reduce((a, s, d) => a + Math.max(0, s - lastSeen[d]!), 0);
      while (performance.now() < until && missing() > 0) await Bun.sleep(10);
      const t = totals();
      reply({ re: "final", ...t, missing: missing(), lost: t.lost + missing() });
      break;
    }
    case "exit":
      stop();
      for (const c of [...devs, ...lis]) c.socket?.end();
      process.exit(0);
    default:
      reply({ re: cmd.cmd, error: `unknown command ${cmd.cmd}` });
  }
}
process.exit(0);
