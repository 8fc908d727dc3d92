/**
 * Load client of the `cluster` scenario: subscribers spread over the given
 * nodes (round-robin), one publisher on the first node at a fixed rate, and
 * publish-to-delivery latency per node. Publications carry the publisher's
 * clock (`performance.timeOrigin + now()`, the same clock in every process
 * on the machine). Speaks JSON lines: prints `{ready}` when every subscriber
 * holds its ack, then `{done, ...}` after warmup + seconds.
 *
 * Roles, so the latency is not the cost of draining the bulk: `probe` (a few
 * subscribers per node, every delivery timed, and the publisher) and `bulk`
 * (the other subscribers, counted without being parsed; answers
 * `{cmd:"count"}` on stdin with its deliveries of publications made inside
 * the window, which carry `"w":1`). `all` does both in
 * one process, as before.
 *
 * Args: --nodes PORT,PORT --subs N --rate R --seconds S --warmup W --topic T [--role all|probe|bulk]
 * @module
 */
import { argValue } from "../../lib/args.ts";

const argv = process.argv;
const ports = argValue(argv, "--nodes", "").split(",").map(Number);
const subs = Number(argValue(argv, "--subs", "100"));
const rate = Number(argValue(argv, "--rate", "100"));
const seconds = Number(argValue(argv, "--seconds", "5"));
const warmup = Number(argValue(argv, "--warmup", "1"));
const topic = argValue(argv, "--topic", "bench.cluster");
const role = argValue(argv, "--role", "all");
const now = () => performance.timeOrigin + performance.now();

let measuring = false;
let ready = false;
const lat: number[][] = ports.map(() => []);
const delivered = ports.map(() => 0);

function open(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ["tickgate.json"]);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`cannot connect to node on ${port}`));
  });
}

const sockets: WebSocket[] = [];
await Promise.all(
  Array.from({ length: subs }, async (_, i) => {
    const node = i % ports.length;
    const ws = await open(ports[node]!);
    sockets.push(ws);
    await new Promise<void>((resolve) => {
      ws.onmessage = (ev) => {
        if (role === "bulk" && ready) {
          // Counted, not parsed: publications made inside the window carry `"w":1`.
          if ((ev.data as string).includes('"w":1')) delivered[node]!++;
          return;
        }
        const f = JSON.parse(ev.data as string);
        if (f.t === "ack" && f.id === 1) return resolve();
        if (f.t !== "msg" || !measuring) return;
        delivered[node]!++;
        // In `all`, one sample in 8 keeps the client's own cost down; a probe times every delivery.
        if (role === "probe" || (delivered[node]! & 7) === 0) lat[node]!.push(now() - f.data.ts);
      };
      ws.send(JSON.stringify({ t: "sub", id: 1, topic }));
    });
  }),
);
if (role === "bulk") {
  ready = true;
  console.log(JSON.stringify({ ready: true, subs }));
  for await (const line of console) {
    const cmd = JSON.parse(line) as { cmd: string };
    if (cmd.cmd === "count") console.log(JSON.stringify({ re: "count", deliveries: delivered.reduce((a, b) => a + b, 0) }));
    else if (cmd.cmd === "exit") break;
  }
  for (const ws of sockets) ws.close();
  process.exit(0);
}
const pub = await open(ports[0]!);
console.log(JSON.stringify({ ready: true, subs }));

const total = warmup + seconds;
const t0 = now();
let sent = 0;
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const elapsed = (now() - t0) / 1000;
    if (elapsed >= total) {
      clearInterval(tick);
      console.log(JSON.stringify({ window: "end" }));
      return resolve();
    }
    if (!measuring && elapsed >= warmup) {
      measuring = true;
      console.log(JSON.stringify({ window: "start" }));
    }
    // Catch up to the rate: publications due since the start, minus those sent.
    const due = Math.floor(elapsed * rate);
    for (; sent < due; sent++) pub.send(JSON.stringify({ t: "pub", topic, data: { ts: now(), n: sent, w: measuring ? 1 : 0 } }));
  }, 2);
});
// Let the last publications arrive before closing the window.
await Bun.sleep(200);
measuring = false;

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
console.log(JSON.stringify({
  done: true,
  seconds,
  deliveries: delivered.reduce((a, b) => a + b, 0),
  perNode: ports.map((port, i) => ({ port, deliveries: delivered[i], p50Ms: pct(lat[i]!, 0.5), p99Ms: pct(lat[i]!, 0.99), samples: lat[i]!.length })),
}));
for (const ws of sockets) ws.close();
pub.close();
process.exit(0);
