/**
 * A client publisher for the fan-out workload: one WebSocket connection
 * (raw TCP, bench/load's WsConn) speaking tickgate's client protocol,
 * sending each tick as a `pub` frame `{t:"pub", topic, data: <tick>}` to
 * bench.fanout, the path a user's publisher takes (decode, gate, policy,
 * sequencing), where the server's own publish loop calls the broker
 * directly. It runs the same publish loop and control protocol as the
 * bench servers (bench/servers/driver.ts), so the fan-out load client and
 * the window measurement are unchanged: this process takes the place of
 * the server's loop, on the client's core.
 *
 * The frames of one event-loop turn go out in one write, as a client
 * library's buffered socket would send them; each is its own WebSocket
 * message. Masked with the zero key (valid; the server unmasks as for any).
 * Args: --port P (tickgate's) [--payload BYTES]
 * @module
 */
import { packr, unpackr } from "../../../src/protocol/codec.ts";
import { WsConn, clientFrame } from "../../load/ws-conn.ts";
import { argInt } from "../../lib/args.ts";
import { payloadTemplate, stamp, TOPIC } from "../../lib/tick.ts";
import { runDriver } from "../../servers/driver.ts";

const argv = process.argv;
const port = argInt(argv, "--port", 0, 1, 65535);
const payloadSize = argInt(argv, "--payload", 100, 62, 60_000);

const fail = (why: string): never => {
  process.stdout.write(JSON.stringify({ error: `publisher: ${why}` }) + "\n");
  process.exit(1);
};

/** The pub frame as a masked client WebSocket message (zero key), and where its tick ends. */
function template(): Uint8Array {
  const head = packr.pack({ t: "pub", topic: TOPIC });
  const tick = payloadTemplate(payloadSize);
  const body = new Uint8Array(head.length + 5 + tick.length);
  body.set(head, 0);
  body[0] = head[0]! + 1; // one more map entry: data
  body.set([0xa4, 0x64, 0x61, 0x74, 0x61], head.length);
  body.set(tick, head.length + 5);
  // Zero mask: the frame is built once and stamped in place.
  return clientFrame(0x2, body);
}
const frame = template();

let errors = 0;
let lastError = "";
const conn = new WsConn(0, {
  frame(c, buf, start, end) {
    const f = unpackr.unpack(buf.subarray(start, end)) as { t?: string; message?: string };
    if (f.t === "welcome") c.ready = true;
    else if (f.t === "error") {
      errors++;
      lastError = f.message ?? "";
    }
  },
  control(c, op, body) {
    if (op === 9) c.send(10, body);
    else if (op === 8) fail("the server closed the connection");
  },
  failed: (_c, why) => fail(why),
});
await Bun.connect<WsConn>({
  hostname: "127.0.0.1",
  port,
  data: conn,
  socket: {
    open(s) {
      s.data.socket = s;
      s.write(s.data.upgradeRequest("/ws", "tickgate.msgpack"));
    },
    data(s, d) {
      s.data.feed(d);
    },
    drain() {
      flush();
    },
    close() {
      if (!closing) fail("connection closed");
    },
    error: (_s, e) => fail(e.message),
  },
});
const until = Date.now() + 15_000;
while (!conn.ready && Date.now() < until) await Bun.sleep(5);
if (!conn.ready) fail("no welcome within 15 s");

// The frames of one turn, written at once; what the socket does not take now goes on its drain.
let batch = new Uint8Array(frame.length * 64);
let used = 0;
let closing = false;
function flush(): void {
  if (used === 0) return;
  const w = conn.socket!.write(batch.subarray(0, used));
  if (w < used) batch.copyWithin(0, Math.max(0, w), used);
  used -= Math.max(0, w);
}

await runDriver({
  name: "tickgate-pub",
  port,
  publish(n, ts) {
    if (used + frame.length > batch.length) {
      const grown = new Uint8Array(batch.length * 2);
      grown.set(batch.subarray(0, used));
      batch = grown;
    }
    if (used === 0) queueMicrotask(flush);
    batch.set(frame, used);
    stamp(batch, used + frame.length, n, ts);
    used += frame.length;
  },
  // The server keeps the count; the error frames it sent this publisher are what this side can tell.
  subscribers: () => (errors > 0 ? fail(`${errors} error frame(s), last: ${lastError}`) : -1),
  async close() {
    closing = true;
    conn.socket?.end();
  },
});
