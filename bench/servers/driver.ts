/**
 * The publish loop both bench servers run, so the workload is identical and
 * only the `publish` call differs.
 *
 * Control: JSON lines on stdin (from the orchestrator), replies as JSON lines
 * on stdout. Flow control: the load client reports, over a plain TCP
 * socket, the highest publication every subscriber has received; the loop
 * keeps at most `window` publications beyond that in flight. Without it a
 * max-rate run would fill loopback socket buffers (megabytes per
 * connection) and measure queueing, not serving, and tickgate's
 * slow-consumer policy would start conflating.
 * @module
 */
import { wallMs } from "../lib/tick.ts";

export interface BenchTarget {
  readonly name: string;
  readonly port: number;
  /** Publishes tick number `n` (1-based) to every subscriber; `ts` is its publish time. */
  publish(n: number, ts: number): void;
  subscribers(): number;
  close(): Promise<void>;
}

interface StartCmd {
  cmd: "start";
  /** Publications per second; 0 = as fast as the window allows. */
  rate: number;
  /** Publications per event-loop turn at most. */
  batch: number;
  window: number;
  /** Hard stop, whatever the orchestrator does. */
  maxSeconds: number;
}

function reply(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + "\n");
}

export async function runDriver(target: BenchTarget): Promise<void> {
  let published = 0;
  let credit = 0;
  let running = false;
  let pending = false;
  let waitingCredit = false;
  let creditStalls = 0;
  let cfg: StartCmd = { cmd: "start", rate: 0, batch: 1, window: 1, maxSeconds: 1 };
  let t0 = 0;
  let deadline = 0;

  // Less than a batch of window left counts as full: trickling single
  // publications into a nearly full window would turn one write per socket
  // per batch into many, and measure that instead.
  const windowFull = () => cfg.window - (published - credit) < cfg.batch;

  const pump = (): void => {
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
    // Paced and ahead of the clock: wait for it rather than spin.
    else setTimeout(pump, 1);
  };

  const onCredit = (v: number): void => {
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

  let carry = "";
  const creditListener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(_s, buf: Buffer) {
        const text = carry + buf.toString("latin1");
        const nl = text.lastIndexOf("\n");
        if (nl < 0) {
          carry = text;
          return;
        }
        carry = text.slice(nl + 1);
        const prev = text.lastIndexOf("\n", nl - 1);
        onCredit(Number(text.slice(prev + 1, nl)));
      },
    },
  });

  const exit = async (code: number) => {
    running = false;
    creditListener.stop(true);
    await Promise.race([target.close(), Bun.sleep(2000)]);
    process.exit(code);
  };
  process.on("SIGTERM", () => void exit(0));

  reply({ ready: true, server: target.name, port: target.port, creditPort: creditListener.port, pid: process.pid });

  for await (const line of console) {
    if (!line.trim()) continue;
    const c = JSON.parse(line) as { cmd: string } & Partial<Omit<StartCmd, "cmd">>;
    switch (c.cmd) {
      case "start":
        cfg = c as StartCmd;
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
