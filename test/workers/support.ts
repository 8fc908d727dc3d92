/**
 * `tickgate serve --workers N` as a real process tree for tests: the port
 * and admin URL come from the line the supervisor prints once every worker
 * listens. Disposing sends SIGTERM (so a local nats-server is stopped too)
 * and SIGKILLs only if that does not end it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { BUN, ROOT } from "../helpers/spawn.ts";

export interface WorkerView {
  index: number;
  pid: number | null;
  state: string;
  restarts: number;
}

export interface Workers extends AsyncDisposable {
  proc: ChildProcess;
  port: number;
  admin: string;
  ws: string;
  exited: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  health(): Promise<{ status: string; workers: WorkerView[] }>;
  /** Polls the admin port (bounded) until `pred` holds for the workers; returns them. */
  until(pred: (w: WorkerView[]) => boolean, timeoutMs?: number): Promise<WorkerView[]>;
}

const READY_MS = 60_000;

export async function startWorkers(args: string[], env: Record<string, string> = {}): Promise<Workers> {
  const proc = spawn(BUN, ["src/cli/main.ts", "serve", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const { port, admin } = await new Promise<{ port: number; admin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`workers not listening within ${READY_MS} ms: ${err}`)), READY_MS);
    proc.stderr!.on("data", (d) => {
      err += d;
      const m = /tickgate listening on http:\/\/127\.0\.0\.1:(\d+) .*admin on (http:\/\/[^)]+)\)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), admin: m[2]! });
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`supervisor exited ${code}: ${err}`));
    });
  });
  const health = async () => (await fetch(`${admin}/health`)).json() as Promise<{ status: string; workers: WorkerView[] }>;
  return {
    proc,
    port,
    admin,
    ws: `ws://127.0.0.1:${port}/ws`,
    exited,
    stdout: () => out,
    stderr: () => err,
    health,
    async until(pred, timeoutMs = 30_000) {
      const end = performance.now() + timeoutMs;
      for (;;) {
        const { workers } = await health();
        if (pred(workers)) return workers;
        if (performance.now() > end) throw new Error(`workers never matched: ${JSON.stringify(workers)}`);
        await Bun.sleep(100);
      }
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
