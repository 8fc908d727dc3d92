/**
 * Ingest load: device connections over raw TCP (bench/load's WsConn), each
 * publishing telemetry ticks as client `pub` frames to
 * `telemetry.d<i>`, plus listener connections subscribed to `telemetry.>`
 * that check every device's counter for gaps and duplicates and record
 * publish→receive latency. HTTP publications (autocannon, to
 * `telemetry.http`) are counted apart.
 *
 * Control (JSON lines): start {rate, maxSeconds}, mark, report, stop,
 * final {timeoutMs}, exit. Args: --port P --devices D [--listeners L]
 * [--payload BYTES] [--sample K]
 * @module
 */
import { packr, unpackr } from "../../../src/protocol/codec.ts";
import { WsConn, type FrameSink } from "../../load/ws-conn.ts";
import { argInt } from "../../lib/args.ts";
import { isPublication, payloadTemplate, readN, readTs, stamp, tailOk, wallMs } from "../../lib/tick.ts";
import { latencyOf, newHistogram, recordUs } from "./latency.ts";

const argv = process.argv;
const port = argInt(argv, "--port", 0, 1, 65535);
const devices = argInt(argv, "--devices", 1000, 1, 60_000);
const listeners = argInt(argv, "--listeners", 1, 1, 100);
const payloadSize = argInt(argv, "--payload", 100, 62, 60_000);
const sampleEvery = argInt(argv, "--sample", 4);

/** `{t:"pub", topic, data}` with the tick as data: a fixed header per device, then the payload. */
function pubFrame(topic: string): { frame: Uint8Array } {
  const head = packr.pack({ t: "pub", topic });
  const tpl = payloadTemplate(payloadSize);
  const frame = new Uint8Array(head.length + 5 + tpl.length);
  frame.set(head, 0);
  frame[0] = head[0]! + 1; // one more map entry: data
  frame.set([0xa4, 0x64, 0x61, 0x74, 0x61], head.length);
  frame.set(tpl, head.length + 5);
  return { frame };
}

const devs: WsConn[] = [];
const frames: Uint8Array[] = [];
const sent = new Float64Array(devices);
const lastSeen = new Float64Array(devices);
const lis: WsConn[] = [];
const hist = newHistogram();
let negative = 0;
let readyCount = 0;
let deliveries = 0;
let httpDeliveries = 0;
let lost = 0;
let dup = 0;
let errorFrames = 0;
let malformed = 0;
let published = 0;
let sampleCountdown = sampleEvery;
const failures: string[] = [];
const fail = (why: string) => void (failures.length < 5 && failures.push(why));
const reply = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");
const SUB = packr.pack({ t: "sub", id: 1, topic: "telemetry.>" });
const total = devices + listeners;
const connectStart = performance.now();
const TOPIC_PREFIX = "telemetry.d";

function markReady(c: WsConn): void {
  if (c.ready) return;
  c.ready = true;
  if (++readyCount === total) reply({ ready: true, devices, listeners, connectMs: Math.round(performance.now() - connectStart) });
}

const sink: FrameSink = {
  frame(c, buf, start, end) {
    const isListener = c.id >= devices;
    if (isListener && c.ready && isPublication(buf, start)) {
      // Listeners see every device: the topic says which, so decode the header once per delivery.
      const f = unpackr.unpack(buf.subarray(start, end)) as { topic: string };
      if (!f.topic.startsWith(TOPIC_PREFIX)) {
        if (f.topic === "telemetry.http") httpDeliveries++;
        return;
      }
      if (!tailOk(buf, end)) {
        malformed++;
        return;
      }
      const d = Number(f.topic.slice(TOPIC_PREFIX.length));
      const n = readN(buf, end);
      deliveries++;
      // One listener's view is enough for loss: the first listener counts.
      if (c.id === devices) {
        if (n > lastSeen[d]!) {
          lost += n - lastSeen[d]! - 1;
          lastSeen[d] = n;
        } else dup++;
      }
      if (--sampleCountdown === 0) {
        sampleCountdown = sampleEvery;
        if (recordUs(hist, Math.round((wallMs() - readTs(buf, end)) * 1000))) negative++;
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

for (let i = 0; i < total; i += 64) {
  const batch: Promise<unknown>[] = [];
  for (let j = i; j < Math.min(total, i + 64); j++) {
    const c = new WsConn(j, sink);
    if (j < devices) {
      devs.push(c);
      frames.push(pubFrame(`${TOPIC_PREFIX}${j}`).frame);
    } else lis.push(c);
    batch.push(
      Bun.connect<WsConn>({
        hostname: "127.0.0.1",
        port,
        data: c,
        socket: {
          open(s) {
            s.data.socket = s;
            s.write(s.data.upgradeRequest(j < devices ? "/ws?client=device" : "/ws", "tickgate.msgpack"));
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

// ---- publishing: round-robin over the devices, paced by the clock ----
let timer: ReturnType<typeof setInterval> | undefined;
let next = 0;
function start(rate: number, maxSeconds: number): void {
  const t0 = performance.now();
  const base = published;
  timer = setInterval(() => {
    const now = performance.now();
    if (now - t0 > maxSeconds * 1000) return stop();
    const due = Math.floor(((now - t0) * rate) / 1000) - (published - base);
    for (let k = 0; k < due; k++) {
      const d = next;
      next = (next + 1) % devices;
      const f = frames[d]!;
      stamp(f, f.length, ++sent[d]!, wallMs());
      devs[d]!.send(2, f);
      published++;
    }
  }, 2);
}
function stop(): void {
  clearInterval(timer);
  timer = undefined;
}

function totals() {
  return { t: wallMs(), deliveries, httpDeliveries, published, lost, dup, malformed, errorFrames, gapFrames: 0, closedConns: [...devs, ...lis].filter((c) => c.closed).length, failures };
}

for await (const line of console) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as { cmd: string; rate?: number; maxSeconds?: number; timeoutMs?: number };
  switch (cmd.cmd) {
    case "start":
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
