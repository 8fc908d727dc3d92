/**
 * Bench peer: Node + Socket.IO 4, websocket transport only. Each socket
 * joins one room on connection and is told `ready`; each publication is one
 * `io.to(room).emit("tick", text)`, which Socket.IO encodes once and sends
 * to every member as a pre-built WebSocket frame.
 *
 * The tick is a string, so the event is one text frame:
 *   42["tick","<pad x…><n: 10 digits><publish time: 16 digits of µs>"]
 * padded to --frame-len bytes (tickgate's frame length), with n and the time
 * at fixed offsets from the end (bench/load/protocols/socketio.ts).
 * Args: --frame-len BYTES
 */
import { createServer } from "node:http";
import { Server } from "socket.io";
import { arg, runDriver } from "./node-driver.mjs";

const ROOM = "bench.fanout";
const frameLen = Number(arg("--frame-len", "171"));
// `42["tick","` + `"]` around the string; 10 + 16 digits at its end.
const pad = "x".repeat(frameLen - 13 - 26);
if (frameLen - 13 - 26 < 0) throw new Error(`socketio: --frame-len ${frameLen} is too short`);

const http = createServer((_req, res) => {
  res.writeHead(400);
  res.end("websocket only");
});
const io = new Server(http, { transports: ["websocket"], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 1024 * 1024 });
io.on("connection", (socket) => {
  socket.join(ROOM);
  socket.emit("ready");
});
await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));

await runDriver({
  name: "socketio",
  port: http.address().port,
  publish(n, ts) {
    io.to(ROOM).emit("tick", pad + String(n).padStart(10, "0") + String(Math.round(ts * 1000)).padStart(16, "0"));
  },
  subscribers: () => io.of("/").adapter.rooms.get(ROOM)?.size ?? 0,
  close: () => new Promise((resolve) => io.close(() => resolve())),
});
