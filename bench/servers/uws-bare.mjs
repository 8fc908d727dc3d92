/**
 * Bench peer: bare uWebSockets.js on Node, the ceiling for tickgate-node.
 * Every socket joins one topic on open; each publication is one
 * `app.publish` (the same native fan-out tickgate's uWS transport uses).
 * The frame is bare-bun.ts's, byte for byte (built by bench/servers/uws-peers.ts
 * and passed in base64), so the load client reads it the same way.
 *
 * --mode publish   app.publish per publication, from the driver's timer (default)
 * --mode corked    publications of one pump turn kept, then each socket sends
 *                  them all inside ws.cork: one write per socket per turn
 *                  (the diagnostic for the slow regime, see docs/benchmarks.md)
 * Args: --frame BASE64 --seq-at K [--mode M] [--module NAME]
 */
import { arg, runDriver, stamp } from "./node-driver.mjs";

const template = Buffer.from(arg("--frame", ""), "base64");
const seqAt = Number(arg("--seq-at", "NaN"));
const mode = arg("--mode", "publish");
if (template.length < 64 || !Number.isInteger(seqAt)) throw new Error("uws-bare: --frame and --seq-at are required");
const uws = (await import(arg("--module", "@trufflesuite/uws-js-unofficial"))).default;
if (!Function.prototype.toString.call(uws.App).includes("[native code]")) throw new Error("uws-bare: not the native uWebSockets.js build");
const TOPIC = "bench";
// {t: "welcome"} in msgpack, as bare-bun.ts sends it.
const WELCOME = Buffer.from([0x81, 0xa1, 0x74, 0xa7, ...Buffer.from("welcome")]);

const sockets = new Set();
const app = uws.App().ws("/*", {
  // tickgate's transport defaults, so the sockets behave alike.
  maxPayloadLength: 1024 * 1024,
  maxBackpressure: 16 * 1024 * 1024,
  closeOnBackpressureLimit: 0,
  idleTimeout: 120,
  sendPingsAutomatically: true,
  compression: uws.DISABLED,
  open(ws) {
    ws.subscribe(TOPIC);
    sockets.add(ws);
    ws.send(WELCOME, true);
  },
  close(ws) {
    sockets.delete(ws);
  },
});
const token = await new Promise((ok) => app.listen("127.0.0.1", 0, ok));
if (!token) throw new Error("uws-bare: listen failed");

let turn = [];
const flushTurn = () => {
  const frames = turn;
  turn = [];
  for (const ws of sockets) ws.cork(() => {
    for (const f of frames) ws.send(f, true);
  });
};

await runDriver({
  name: "uws-bare",
  port: uws.us_socket_local_port(token),
  publish(n, ts) {
    const f = Buffer.from(template);
    f.writeUInt32BE(n >>> 0, seqAt);
    stamp(f, f.length, n, ts);
    if (mode === "corked") {
      if (turn.push(f) === 1) queueMicrotask(flushTurn);
    } else app.publish(TOPIC, f, true);
  },
  subscribers: () => app.numSubscribers(TOPIC),
  close: async () => {
    uws.us_listen_socket_close(token);
    for (const ws of sockets) ws.close();
  },
});
