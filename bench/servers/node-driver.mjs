/**
 * The publish loop of bench/servers/driver.ts, for the Node peers
 * (node-ws.mjs, socketio.mjs). Node 20 cannot run TypeScript, so this is a
 * deliberate, minimal copy: same commands, same replies, same pacing, same
 * credit window. Keep the two in step when changing either.
 *
 * target: { name, port, publish(n, ts), subscribers(), close(): Promise }
 */
import { createServer } from "node:net";
import { createInterface } from "node:readline";

export const wallMs = () => performance.timeOrigin + performance.now();
const reply = (o) => process.stdout.write(JSON.stringify(o) + "\n");

/** `--name value` from argv. */
export function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}

export async function runDriver(target) {
  let published = 0;
  let credit = 0;
  let running = false;
  let pending = false;
  let waitingCredit = false;
  let creditStalls = 0;
  let cfg = { rate: 0, batch: 1, window: 1, maxSeconds: 1 };
  let t0 = 0;
  let deadline = 0;
  const windowFull = () => cfg.window - (published - credit) < cfg.batch;

  const pump = () => {
    pending = false;
    if (!running) return;
    const now = performance.now();
    if (now > deadline) {
      running = false;
      return;
    }
    let n = cfg.batch;
    if (cfg.rate > 0) n = Math.min(n, Math.floor(((now - t0) * cfg.rate) / 1000) - published);
    if (windowFull()) n = 0;
    for (let i = 0; i < n; i++) target.publish(++published, wallMs());
    if (windowFull()) {
      waitingCredit = true;
      creditStalls++;
      return;
    }
    pending = true;
    if (n === cfg.batch) setImmediate(pump);
    else setTimeout(pump, 1);
  };

  const onCredit = (v) => {
    if (v <= credit) return;
    credit = v;
    if (waitingCredit && running && !windowFull()) {
      waitingCredit = false;
      if (!pending) {
        pending = true;
        setImmediate(pump);
      }
    }
  };

  const creditServer = createServer((s) => {
    let carry = "";
    s.on("data", (buf) => {
      const text = carry + buf.toString("latin1");
      const nl = text.lastIndexOf("\n");
      if (nl < 0) {
        carry = text;
        return;
      }
      carry = text.slice(nl + 1);
      onCredit(Number(text.slice(text.lastIndexOf("\n", nl - 1) + 1, nl)));
    });
    s.on("error", () => {});
  });
  await new Promise((resolve) => creditServer.listen(0, "127.0.0.1", resolve));

  const exit = async (code) => {
    running = false;
    creditServer.close();
    await Promise.race([target.close(), new Promise((r) => setTimeout(r, 2000))]);
    process.exit(code);
  };
  process.on("SIGTERM", () => void exit(0));

  reply({ ready: true, server: target.name, port: target.port, creditPort: creditServer.address().port, pid: process.pid });

  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    switch (c.cmd) {
      case "start":
        cfg = c;
        if (cfg.window < cfg.batch) cfg.window = cfg.batch;
        published = 0;
        credit = 0;
        creditStalls = 0;
        t0 = performance.now();
        deadline = t0 + cfg.maxSeconds * 1000;
        running = true;
        pending = true;
        setImmediate(pump);
        reply({ re: "start", subscribers: target.subscribers() });
        break;
      case "count":
        reply({ re: "count", published, credit, creditStalls, running, subscribers: target.subscribers() });
        break;
      case "stop":
        running = false;
        reply({ re: "stop", published, credit, creditStalls });
        break;
      case "exit":
        reply({ re: "exit" });
        await exit(0);
        break;
      default:
        reply({ re: c.cmd, error: `unknown command ${c.cmd}` });
    }
  }
  // stdin closed: the orchestrator is gone, so never outlive it.
  await exit(0);
}

/** Writes `n` (uint32) and `ts` (float64) big-endian into the tick tail ending at `end` (bench/lib/tick.ts `stamp`). */
export function stamp(buf, end, n, ts) {
  buf.writeUInt32BE(n >>> 0, end - 16);
  buf.writeDoubleBE(ts, end - 8);
}
