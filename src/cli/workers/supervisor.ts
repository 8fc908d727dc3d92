/**
 * The supervisor of `tickgate serve --workers N`: starts N worker processes
 * (this CLI again, `serve` with the same flags) that listen on one port with
 * SO_REUSEPORT, restarts one that dies (with backoff), gives up with a clear
 * message when they keep crashing, and stops them all on SIGTERM/SIGINT.
 * It forwards no traffic: the kernel spreads connections over the workers
 * and the cluster bus joins their topics. Nothing here runs per message.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "pino";
import type { HttpAsk, WorkerMessage } from "./worker.ts";
import { WORKER_ENV } from "./worker.ts";

/** Crashes (any worker) within {@link CRASH_WINDOW_MS} that end the supervisor. */
export const DEFAULT_CRASH_LIMIT = 5;
export const CRASH_WINDOW_MS = 60_000;
/** First restart delay; doubles per crash of the same worker, up to {@link MAX_BACKOFF_MS}. */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 8_000;
/** A worker that stayed up this long starts its backoff over. */
const STABLE_MS = 30_000;
/** A worker that ignores SIGTERM this long is SIGKILLed. */
const STOP_GRACE_MS = 15_000;
const ASK_TIMEOUT_MS = 5_000;

export interface SupervisorOptions {
  count: number;
  /** The CLI entry and the `serve` arguments every worker gets (no --workers, no --port). */
  argv: string[];
  env: Record<string, string | undefined>;
  /** 0: worker 0 picks a port and the others take the same. */
  port: number;
  log: Logger;
  crashLimit?: number;
}

export type WorkerState = "starting" | "ready" | "backoff" | "stopped";

interface Slot {
  index: number;
  proc: ChildProcess | null;
  pid: number | null;
  state: WorkerState;
  startedAt: number;
  /** Crashes in a row without staying up {@link STABLE_MS}; sets the backoff. */
  streak: number;
  restarts: number;
  timer: ReturnType<typeof setTimeout> | null;
}

export interface WorkerView {
  index: number;
  pid: number | null;
  state: WorkerState;
  restarts: number;
}

export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #slots: Slot[];
  readonly #crashes: number[] = [];
  readonly #asks = new Map<number, { resolve: (m: Extract<WorkerMessage, { t: "http" }>) => void }>();
  #askId = 0;
  #port: number;
  #stopping = false;
  #done!: (code: number, why?: string) => void;
  #firstReady!: (port: number) => void;
  #allReady!: () => void;
  /** Resolves with the exit code and, on failure, the one line that says why. */
  readonly done: Promise<{ code: number; why?: string }>;
  /** The shared port, once worker 0 listens. */
  readonly listening: Promise<number>;
  /** Every worker has reported ready once. */
  readonly allReady: Promise<void>;

  constructor(o: SupervisorOptions) {
    this.#o = o;
    this.#port = o.port;
    this.#slots = Array.from({ length: o.count }, (_, index) => ({ index, proc: null, pid: null, state: "stopped", startedAt: 0, streak: 0, restarts: 0, timer: null }));
    this.done = new Promise((r) => (this.#done = (code, why) => r(why ? { code, why } : { code })));
    this.listening = new Promise((r) => (this.#firstReady = r));
    this.allReady = new Promise((r) => (this.#allReady = r));
  }

  get port(): number {
    return this.#port;
  }
  get stopping(): boolean {
    return this.#stopping;
  }
  /** Restarts so far, over all workers. */
  get restarts(): number {
    return this.#slots.reduce((n, s) => n + s.restarts, 0);
  }
  workers(): WorkerView[] {
    return this.#slots.map(({ index, pid, state, restarts }) => ({ index, pid, state, restarts }));
  }

  /** With a fixed port every worker starts at once; with port 0, worker 0 first picks it. */
  start(): void {
    if (this.#port !== 0) for (const s of this.#slots) this.#spawn(s);
    else this.#spawn(this.#slots[0]!);
  }

  #spawn(s: Slot): void {
    s.timer = null;
    s.state = "starting";
    s.startedAt = performance.now();
    const env = { ...this.#o.env, [WORKER_ENV]: String(s.index) };
    const args = [...this.#o.argv, "--port", String(this.#port)];
    const proc = spawn(process.execPath, args, { env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    s.proc = proc;
    s.pid = proc.pid ?? null;
    this.#o.log.info({ event: "worker_start", worker: s.index, pid: s.pid }, "worker starting");
    proc.on("message", (m: WorkerMessage) => this.#onMessage(s, m));
    proc.once("exit", (code, signal) => this.#onExit(s, proc, code, signal));
  }

  #onMessage(s: Slot, m: WorkerMessage): void {
    if (m.t === "http") {
      this.#asks.get(m.id)?.resolve(m);
      this.#asks.delete(m.id);
      return;
    }
    if (m.t !== "ready") return;
    s.state = "ready";
    this.#o.log.info({ event: "worker_ready", worker: s.index, pid: m.pid, port: m.port }, "worker listening");
    if (this.#port === 0) {
      this.#port = m.port;
      for (const o of this.#slots) if (o !== s && o.state === "stopped" && !this.#stopping) this.#spawn(o);
    }
    this.#firstReady(this.#port);
    if (this.#slots.every((o) => o.state === "ready")) this.#allReady();
  }

  #onExit(s: Slot, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (s.proc !== proc) return;
    s.proc = null;
    s.pid = null;
    s.state = "stopped";
    if (this.#stopping) return this.#checkStopped();
    const now = performance.now();
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    this.#crashes.push(now);
    while (this.#crashes.length > 0 && now - this.#crashes[0]! > CRASH_WINDOW_MS) this.#crashes.shift();
    const limit = this.#o.crashLimit ?? DEFAULT_CRASH_LIMIT;
    if (this.#crashes.length >= limit) {
      const why = `workers keep crashing: ${this.#crashes.length} exits within ${CRASH_WINDOW_MS / 1000} s (last: worker ${s.index}, ${how}); giving up`;
      this.#o.log.error({ event: "crash_loop", worker: s.index, exits: this.#crashes.length }, why);
      void this.stop("crash loop", 1, why);
      return;
    }
    s.streak = now - s.startedAt >= STABLE_MS ? 1 : s.streak + 1;
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (s.streak - 1));
    s.state = "backoff";
    s.restarts++;
    this.#o.log.warn({ event: "worker_exit", worker: s.index, code, signal, restart_in_ms: delay, restarts: s.restarts }, `worker ${s.index} died (${how}); restarting in ${delay} ms`);
    s.timer = setTimeout(() => this.#spawn(s), delay);
  }

  /** Stops every worker with SIGTERM (they close their connections with 1001), then resolves `done`. */
  async stop(why: string, code = 0, message?: string): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#exit = { code, ...(message ? { why: message } : {}) };
    this.#o.log.info({ event: "shutdown", reason: why }, "stopping workers");
    for (const s of this.#slots) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = null;
      if (s.state === "backoff") s.state = "stopped";
      if (!s.proc) continue;
      const proc = s.proc;
      proc.kill("SIGTERM");
      setTimeout(() => proc.exitCode === null && proc.signalCode === null && proc.kill("SIGKILL"), STOP_GRACE_MS).unref();
    }
    this.#checkStopped();
  }

  #exit: { code: number; why?: string } = { code: 0 };

  #checkStopped(): void {
    if (this.#slots.some((s) => s.proc !== null)) return;
    for (const a of this.#asks.values()) a.resolve({ t: "http", id: -1, status: 503, type: "text/plain", body: "stopping" });
    this.#done(this.#exit.code, this.#exit.why);
  }

  /**
   * Runs one admin request on every ready worker (through its own routes);
   * a worker that does not answer in time counts as 503.
   */
  async ask(path: string, headers: [string, string][], ip: string): Promise<{ worker: number; status: number; type: string; body: string }[]> {
    const ready = this.#slots.filter((s) => s.state === "ready" && s.proc);
    return Promise.all(
      ready.map(
        (s) =>
          new Promise<{ worker: number; status: number; type: string; body: string }>((resolve) => {
            const id = ++this.#askId;
            const timer = setTimeout(() => {
              this.#asks.delete(id);
              resolve({ worker: s.index, status: 503, type: "text/plain", body: "worker did not answer" });
            }, ASK_TIMEOUT_MS);
            this.#asks.set(id, {
              resolve: (m) => {
                clearTimeout(timer);
                resolve({ worker: s.index, status: m.status, type: m.type, body: m.body });
              },
            });
            const msg: HttpAsk = { t: "http", id, path, headers, ip };
            try {
              s.proc!.send(msg);
            } catch {
              this.#asks.get(id)?.resolve({ t: "http", id, status: 503, type: "text/plain", body: "worker gone" });
            }
          }),
      ),
    );
  }
}
