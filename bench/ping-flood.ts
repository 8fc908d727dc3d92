/**
 * One client's ping round trip while four connections flood 1 MiB `ping`
 * frames padded with an ignored field (issue 16, item 4). Three processes,
 * so the figure is the server's: the server, the flooders (their 40 MiB of
 * masking and sending would otherwise stall the timed client's own loop),
 * and this process, which times the pings.
 *   npx bun bench/ping-flood.ts [--rounds 20] [--max-frame BYTES]
 * The server runs at its defaults unless --max-frame is given.
 * Prints the median and worst round trip, idle and right after the flood is sent.
 */
import { decodeServerFrame, packr } from "../src/protocol/codec.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const rounds = arg("--rounds", 20);
const maxFrame = arg("--max-frame", 0);
const root = `${import.meta.dir}/..`;

async function firstLine(p: Bun.Subprocess<"pipe", "pipe", "ignore">): Promise<string> {
  const reader = p.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
  reader.releaseLock();
  return text.trim().split("\n")[0]!;
}

// Spawned as this very Bun (not through npx), so kill() reaches the process itself.
const server = Bun.spawn([process.execPath, "-e", `
  import { createServer } from "./src/adapter/bun/index.ts";
  const s = createServer({ host: "127.0.0.1", port: 0, ${maxFrame ? `maxFrameBytes: ${maxFrame},` : ""} errorBudget: { burst: 1e9, perSecond: 1e9 } });
  await s.listen();
  console.log(s.wsUrl);
  // Ends with its parent: stdin closes when the parent goes, however it goes.
  for await (const _ of console) {}
  process.exit(0);
`], { cwd: root, stdin: "pipe", stdout: "pipe", stderr: "ignore" });
const url = await firstLine(server);

const flooder = Bun.spawn([process.execPath, "-e", `
  import { packr } from "./src/protocol/codec.ts";
  const open = async () => { const ws = new WebSocket(${JSON.stringify(url)}, ["tickgate.msgpack"]); ws.binaryType = "arraybuffer"; await new Promise((r) => (ws.onopen = r)); return ws; };
  const flooders = await Promise.all([0, 1, 2, 3].map(open));
  const frame = packr.pack({ t: "ping", id: 1, padding: "x".repeat(1024 * 1024 - 64) });
  console.log("ready");
  for await (const _ of console) break;
  // As in the issue: each flooder sends ten padded pings at once.
  for (const f of flooders) for (let i = 0; i < 10; i++) f.send(frame);
  // Open sockets would keep it alive: it ends itself, whatever happens to the parent.
  await Bun.sleep(30_000);
  process.exit(0);
`], { cwd: root, stdin: "pipe", stdout: "pipe", stderr: "ignore" });
await firstLine(flooder);

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
flooder.stdin.write("go\n");
flooder.stdin.flush();
console.log(`flood: ${stat(await rtt(me, rounds))}`);
flooder.kill();
server.kill();
await Promise.all([flooder.exited, server.exited]);
process.exit(0);
