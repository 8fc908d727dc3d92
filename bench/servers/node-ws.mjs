/**
 * Bench peer: Node + `ws`. `ws` has no pub/sub, so subscribers are kept in
 * a Set and each publication is sent to each of them with `ws.send` — the
 * broadcast of ws's README. The frame is bare-bun.ts's, byte for byte (built
 * by bench/lib/peers.ts and passed in base64), so the load client reads it
 * the same way ("raw" protocol: welcome on open, then publications).
 * Args: --frame BASE64 --seq-at K
 */
import { WebSocketServer } from "ws";
import { arg, runDriver, stamp } from "./node-driver.mjs";

const template = Buffer.from(arg("--frame", ""), "base64");
const seqAt = Number(arg("--seq-at", "NaN"));
if (template.length < 64 || !Number.isInteger(seqAt)) throw new Error("node-ws: --frame and --seq-at are required");
// {t: "welcome"} in msgpack, as bare-bun.ts sends it.
const WELCOME = Buffer.from([0x81, 0xa1, 0x74, 0xa7, ...Buffer.from("welcome")]);

const subscribers = new Set();
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, clientTracking: false, maxPayload: 1024 * 1024 });
await new Promise((resolve) => wss.once("listening", resolve));
wss.on("connection", (ws) => {
  subscribers.add(ws);
  ws.on("close", () => subscribers.delete(ws));
  ws.on("error", () => subscribers.delete(ws));
  ws.send(WELCOME);
});

await runDriver({
  name: "node-ws",
  port: wss.address().port,
  publish(n, ts) {
    const f = Buffer.from(template);
    f.writeUInt32BE(n >>> 0, seqAt);
    stamp(f, f.length, n, ts);
    for (const ws of subscribers) ws.send(f);
  },
  subscribers: () => subscribers.size,
  close: () =>
    new Promise((resolve) => {
      for (const ws of subscribers) ws.terminate();
      wss.close(() => resolve());
    }),
});
