/**
 * One client's ping round trip while four connections flood 1 MiB `ping`
 * frames padded with an ignored field (issue 16, item 4). The server runs
 * in a child process; this process holds the clients.
 *   npx bun bench/ping-flood.ts [--rounds 20]
 * Prints the median and worst round trip, idle and right after the flood is sent.
 */
import { decodeServerFrame, packr } from "../src/protocol/codec.ts";

const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1] || 20);
const child = Bun.spawn(["npx", "bun", "-e", `
  import { createServer } from "./src/adapter/bun/index.ts";
  const s = createServer({ host: "127.0.0.1", port: 0, maxFrameBytes: 2 * 1024 * 1024, errorBudget: { burst: 1e9, perSecond: 1e9 } });
  await s.listen();
  console.log(s.wsUrl);
`], { cwd: `${import.meta.dir}/..`, stdout: "pipe", stderr: "ignore" });
const reader = child.stdout.getReader();
let text = "";
while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
const url = text.trim().split("\n").pop()!;

async function open(): Promise<WebSocket> {
  const ws = new WebSocket(url, ["tickgate.msgpack"]);
  ws.binaryType = "arraybuffer";
  await new Promise((r) => (ws.onopen = r));
  return ws;
}

async function rtt(ws: WebSocket, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      ws.onmessage = (ev) => {
        const f = decodeServerFrame(ev.data as ArrayBuffer);
        if (f.t === "pong" && f.id === i) resolve();
      };
      ws.send(packr.pack({ t: "ping", id: i }) as Uint8Array<ArrayBuffer>);
    });
    out.push(performance.now() - t0);
  }
  return out;
}

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `first ${xs[0]!.toFixed(2)} ms, median ${s[s.length >> 1]!.toFixed(2)} ms, worst ${s[s.length - 1]!.toFixed(2)} ms`;
};

const me = await open();
await rtt(me, 5);
console.log(`idle:  ${stat(await rtt(me, rounds))}`);
const flooders = await Promise.all([0, 1, 2, 3].map(open));
const pad = "x".repeat(1024 * 1024 - 64);
// As in the issue: each flooder sends ten padded pings at once, then the
// other client's pings are timed while the server works through them.
for (const f of flooders) for (let i = 0; i < 10; i++) f.send(packr.pack({ t: "ping", id: i, padding: pad }) as Uint8Array<ArrayBuffer>);
console.log(`flood: ${stat(await rtt(me, rounds))}`);
child.kill();
process.exit(0);
