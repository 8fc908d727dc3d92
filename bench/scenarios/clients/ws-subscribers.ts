/**
 * Encodings load client: tickgate subscribers on Bun's own WebSocket client,
 * which negotiates permessage-deflate and inflates natively (the raw TCP
 * client does not). msgpack frames are read at the tick's fixed tail
 * offsets; JSON frames are parsed, as a JSON subscriber must.
 *
 * With `--batch on` it offers the batch subprotocol and reads `batch`
 * frames (msgpack ones walked and read at the tick's offsets like plain
 * frames, JSON ones parsed like plain ones), so a
 * saturated subscriber can be compared with and without them. With a
 * credit port it reports the highest tick every connection has, so the
 * publisher can run at max rate without burying it.
 *
 * Control as the other clients: mark, report, final {published}, exit.
 * Args: --port P --subs N --encoding msgpack|json --deflate on|off [--batch on|off]
 *       [--sample K] [--credit-port C --credit-step S]
 * @module
 */
import { packr, unpackr } from "../../../src/protocol/codec.ts";
import { skipValue } from "../../../src/protocol/msgpack-scan.ts";
import { argInt, argValue } from "../../lib/args.ts";
import { isPublication, readN, readTs, tailOk, TOPIC, wallMs } from "../../lib/tick.ts";
import { latencyOf, newHistogram, recordUs } from "./latency.ts";

const argv = process.argv;
const port = argInt(argv, "--port", 0, 1, 65535);
const subs = argInt(argv, "--subs", 100, 1, 60_000);
const json = argValue(argv, "--encoding", "msgpack") === "json";
const deflate = argValue(argv, "--deflate", "off") === "on";
const sampleEvery = argInt(argv, "--sample", 16);
const batch = argValue(argv, "--batch", "off") === "on";
const creditPort = argInt(argv, "--credit-port", 0, 0, 65535);
const creditStep = argInt(argv, "--credit-step", 4);

interface Sub {
  ws: WebSocket;
  ready: boolean;
  closed: boolean;
  lastN: number;
}

const conns: Sub[] = [];
const hist = newHistogram();
let negative = 0;
let deliveries = 0;
let lost = 0;
let dup = 0;
let malformed = 0;
let errorFrames = 0;
let gapFrames = 0;
let readyCount = 0;
let sampleCountdown = sampleEvery;
const failures: string[] = [];
const fail = (why: string) => void (failures.length < 5 && failures.push(why));
const reply = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");
const SUB = { t: "sub", id: 1, topic: TOPIC };
const t0 = performance.now();

// ---- flow-control credit: the highest tick every open connection has received ----
const credit = creditPort > 0 ? await Bun.connect({ hostname: "127.0.0.1", port: creditPort, socket: { data() {} } }) : null;
let creditSent = 0;
let nextCreditAt = creditStep * subs;

function sendCredit(): void {
  nextCreditAt = deliveries + creditStep * subs;
  if (!credit) return;
  let min = Infinity;
  for (const c of conns) if (!c.closed && c.ready) min = Math.min(min, c.lastN);
  if (min !== Infinity && min > creditSent) {
    creditSent = min;
    credit.write(`${min}\n`);
  }
}
// A fallback tick, so a connection that catches up after the last trigger cannot leave the publisher waiting.
if (credit) setInterval(sendCredit, 5);

/** `{t: "batch", ...}`: map of 2, "t", "batch". */
const isBatch = (b: Uint8Array) => b[0] === 0x82 && b[1] === 0xa1 && b[2] === 0x74 && b[3] === 0xa5 && b[4] === 0x62 && b[9] === 0xa4;

/**
 * A msgpack batch, read like a plain frame: each element's end is found by
 * skipping it (the protocol's structural scanner) and its tick read at the
 * fixed tail offsets, so both variants pay the same per publication.
 */
function binaryBatch(c: Sub, buf: Uint8Array): void {
  let p = 14; // map header, "t", "batch", "msgs"
  const h = buf[p]!;
  let n: number;
  if ((h & 0xf0) === 0x90) {
    n = h & 0x0f;
    p += 1;
  } else if (h === 0xdc) {
    n = (buf[p + 1]! << 8) | buf[p + 2]!;
    p += 3;
  } else {
    n = new DataView(buf.buffer, buf.byteOffset).getUint32(p + 1);
    p += 5;
  }
  for (let i = 0; i < n; i++) {
    const end = skipValue(buf, p);
    if (!isPublication(buf, p) || !tailOk(buf, end)) malformed++;
    else tick(c, readN(buf, end), readTs(buf, end));
    p = end;
  }
}

/** A JSON batch frame's publications (each a `msg` map), one by one. */
function batchOf(c: Sub, f: { t?: string; msgs?: { data?: { n?: number; ts?: number } }[] }): boolean {
  if (f.t !== "batch") return false;
  if (!c.ready || !Array.isArray(f.msgs)) return true;
  for (const m of f.msgs) {
    if (typeof m.data?.n !== "number" || typeof m.data.ts !== "number") malformed++;
    else tick(c, m.data.n, m.data.ts);
  }
  return true;
}

function tick(c: Sub, n: number, ts: number): void {
  if (++deliveries >= nextCreditAt) sendCredit();
  if (n > c.lastN) {
    lost += n - c.lastN - 1;
    c.lastN = n;
  } else dup++;
  if (--sampleCountdown === 0) {
    sampleCountdown = sampleEvery;
    if (recordUs(hist, Math.round((wallMs() - ts) * 1000))) negative++;
  }
}

function control(c: Sub, f: { t?: string; id?: number; message?: string }): void {
  if (f.t === "welcome") c.ws.send(json ? JSON.stringify(SUB) : (packr.pack(SUB) as Uint8Array<ArrayBuffer>));
  else if (f.t === "ack" && f.id === 1 && !c.ready) {
    c.ready = true;
    if (++readyCount === subs) reply({ ready: true, subs, connectMs: Math.round(performance.now() - t0) });
  } else if (f.t === "gap") gapFrames++;
  else if (f.t === "error") {
    errorFrames++;
    fail(`error frame: ${f.message}`);
  }
}

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const enc = json ? "tickgate.json" : "tickgate.msgpack";
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { protocols: batch ? [`${enc}.batch`, enc] : [enc], perMessageDeflate: deflate } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const c: Sub = { ws, ready: false, closed: false, lastN: 0 };
    conns.push(c);
    ws.onopen = () => {
      if (batch !== ws.protocol.endsWith(".batch")) fail(`conn ${i}: batch frames ${batch ? "not negotiated" : "negotiated unasked"} (${ws.protocol})`);
      if (deflate !== ws.extensions.includes("permessage-deflate")) fail(`conn ${i}: deflate ${deflate ? "not negotiated" : "negotiated unasked"} (${ws.extensions || "none"})`);
      resolve();
    };
    ws.onerror = () => {
      fail(`conn ${i}: error`);
      resolve();
    };
    ws.onclose = () => {
      c.closed = true;
    };
    ws.onmessage = json
      ? (e) => {
          const f = JSON.parse(e.data as string) as { t?: string; data?: { n?: number; ts?: number } };
          if (f.t === "msg" && c.ready) {
            if (typeof f.data?.n !== "number" || typeof f.data.ts !== "number") malformed++;
            else tick(c, f.data.n, f.data.ts);
          } else if (!batchOf(c, f)) control(c, f);
        }
      : (e) => {
          const buf = new Uint8Array(e.data as ArrayBuffer);
          if (c.ready && buf.length > 24 && isPublication(buf, 0)) {
            if (!tailOk(buf, buf.length)) malformed++;
            else tick(c, readN(buf, buf.length), readTs(buf, buf.length));
          } else if (c.ready && isBatch(buf)) binaryBatch(c, buf);
          else control(c, unpackr.unpack(buf));
        };
  });
}

for (let i = 0; i < subs; i += 64) await Promise.all(Array.from({ length: Math.min(64, subs - i) }, (_, k) => open(i + k)));

const totals = () => ({ t: wallMs(), deliveries, lost, dup, malformed, gapFrames, errorFrames, closedConns: conns.filter((c) => c.closed).length, failures });

for await (const line of console) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as { cmd: string; published?: number; timeoutMs?: number };
  switch (cmd.cmd) {
    case "mark":
      hist.reset();
      negative = 0;
      reply({ re: "mark", ...totals() });
      break;
    case "report":
      reply({ re: "report", ...totals(), latencyUs: latencyOf(hist, negative) });
      break;
    case "final": {
      const published = cmd.published ?? 0;
      const until = performance.now() + (cmd.timeoutMs ?? 3000);
      const missing = () => conns.reduce((a, c) => a + (c.closed ? 0 : Math.max(0, published - c.lastN)), 0);
      while (performance.now() < until && missing() > 0) await Bun.sleep(10);
      const t = totals();
      reply({ re: "final", ...t, missing: missing(), lost: t.lost + missing() });
      break;
    }
    case "exit":
      for (const c of conns) c.ws.close();
      process.exit(0);
    default:
      reply({ re: cmd.cmd, error: `unknown command ${cmd.cmd}` });
  }
}
process.exit(0);
