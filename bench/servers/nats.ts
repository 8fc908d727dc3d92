/**
 * Bench peer: nats-server (Go) with its WebSocket listener. This process is
 * only the publisher and the driver: bench/lib/peers.ts starts it in the
 * background and `exec`s nats-server in place of the launching shell, so
 * the pid the orchestrator measures is nats-server's (this process's CPU,
 * one TCP write per event-loop turn, is not in the server's figures).
 *
 * It reads the ports nats-server picked from its ports file, connects over
 * plain TCP and publishes each tick as `PUB bench.fanout <size>\r\n<tick>\r\n`
 * (the publications of one event-loop turn in one write). Subscribers get
 * `MSG bench.fanout 1 <size>\r\n<tick>\r\n`; the tick's `pad` is sized so
 * that message is as long as tickgate's frame.
 * Args: --payload BYTES --dir DIR (nats-server's ports_file_dir) --nats-pid PID
 * @module
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { argInt, argValue } from "../lib/args.ts";
import { payloadTemplate, stamp, tickgateFrameLength, TOPIC } from "../lib/tick.ts";
import { runDriver } from "./driver.ts";

const argv = process.argv;
const frameLen = tickgateFrameLength(argInt(argv, "--payload", 100, 62, 60_000));
const dir = argValue(argv, "--dir", "");
const natsPid = argInt(argv, "--nats-pid", 1, 2);

const killNats = (): void => {
  try {
    process.kill(natsPid, "SIGTERM");
  } catch {
    // already gone
  }
};
process.on("exit", killNats);
const fail = (why: string): never => {
  let log = "";
  try {
    log = readFileSync(`${dir}/nats.log`, "utf8").slice(-2000);
  } catch {
    // no log yet
  }
  process.stdout.write(JSON.stringify({ error: `nats: ${why}` }) + "\n");
  process.stderr.write(`nats: ${why}\n${log}\n`);
  process.exit(1);
};

/** Tick size such that `MSG <topic> 1 <size>\r\n<tick>\r\n` is `frameLen` bytes. */
function tickSize(): number {
  for (let size = 62; size < frameLen; size++) if (`MSG ${TOPIC} 1 ${size}\r\n`.length + size + 2 === frameLen) return size;
  return fail(`no tick size gives ${frameLen}-byte messages`);
}
const size = tickSize();
const enc = new TextEncoder();
const head = enc.encode(`PUB ${TOPIC} ${size}\r\n`);
const template = new Uint8Array(head.length + size + 2);
template.set(head, 0);
template.set(payloadTemplate(size), head.length);
template.set([13, 10], head.length + size);
const tickEnd = head.length + size;

async function ports(): Promise<{ nats: number; ws: number }> {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    const f = readdirSync(dir).find((n) => n.endsWith(".ports"));
    if (f) {
      try {
        const p = JSON.parse(readFileSync(`${dir}/${f}`, "utf8")) as { nats?: string[]; websocket?: string[] };
        const port = (u: string | undefined) => Number(/:(\d+)$/.exec(u ?? "")?.[1] ?? NaN);
        const out = { nats: port(p.nats?.[0]), ws: port(p.websocket?.[0]) };
        if (out.nats > 0 && out.ws > 0) return out;
      } catch {
        // half written: read it again
      }
    }
    await Bun.sleep(20);
  }
  return fail("nats-server wrote no ports file within 15 s");
}

const { nats: natsPort, ws: wsPort } = await ports();
const sock = connect({ host: "127.0.0.1", port: natsPort });
sock.setNoDelay(true);
let closing = false;
await new Promise<void>((resolve) => {
  let text = "";
  sock.on("data", (d: Buffer) => {
    text += d.toString("latin1");
    let nl: number;
    while ((nl = text.indexOf("\r\n")) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 2);
      if (line.startsWith("INFO ")) sock.write(`CONNECT {"verbose":false,"pedantic":false,"protocol":1,"name":"tickgate-bench-pub"}\r\nPING\r\n`);
      else if (line === "PONG") resolve();
      else if (line === "PING") sock.write("PONG\r\n");
      else if (line.startsWith("-ERR")) fail(`publisher: ${line}`);
    }
  });
  sock.on("error", (e) => fail(`publisher connection: ${e.message}`));
  sock.on("close", () => closing || fail("nats-server closed the publisher connection"));
});

// The publications of one event-loop turn, written at once.
let batch = new Uint8Array(template.length * 64);
let used = 0;
const flush = (): void => {
  sock.write(batch.slice(0, used));
  used = 0;
};

await runDriver({
  name: "nats",
  port: wsPort,
  publish(n, ts) {
    if (used + template.length > batch.length) {
      const grown = new Uint8Array(batch.length * 2);
      grown.set(batch.subarray(0, used));
      batch = grown;
    }
    if (used === 0) queueMicrotask(flush);
    batch.set(template, used);
    stamp(batch, used + tickEnd, n, ts);
    used += template.length;
  },
  // nats-server keeps the count; asking it would need its monitoring port.
  subscribers: () => -1,
  async close() {
    closing = true;
    sock.destroy();
    killNats();
    rmSync(dir, { recursive: true, force: true });
  },
});
