/**
 * Child processes of the orchestrator: spawned (optionally pinned to a
 * core), spoken to in JSON lines, and always killed — on normal exit, on
 * error and on SIGINT/SIGTERM — so no bench server outlives a run.
 * @module
 */
import type { Subprocess } from "bun";

const live = new Set<Child>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of live) c.kill();
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      for (const c of live) c.kill();
      process.exit(130);
    });
  }
}

export class Child {
  readonly #proc: Subprocess<"pipe", "pipe", "pipe">;
  readonly #lines: Record<string, unknown>[] = [];
  #waiter: (() => void) | null = null;
  #stderr = "";
  #ended = false;

  constructor(readonly name: string, argv: string[]) {
    hookExit();
    this.#proc = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    live.add(this);
    void this.#readStdout();
    void this.#readStderr();
    void this.#proc.exited.then(() => {
      this.#ended = true;
      live.delete(this);
      this.#waiter?.();
    });
  }

  get pid(): number {
    return this.#proc.pid;
  }

  async #readStdout(): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of this.#proc.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        try {
          this.#lines.push(JSON.parse(line));
        } catch {
          continue;
        }
        this.#waiter?.();
      }
    }
  }

  async #readStderr(): Promise<void> {
    const dec = new TextDecoder();
    // Only the tail matters for an error message.
    for await (const chunk of this.#proc.stderr) this.#stderr = (this.#stderr + dec.decode(chunk)).slice(-4000);
  }

  /** Next JSON line satisfying `pred`, or throws after `timeoutMs` or when the child dies. */
  async next(pred: (o: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#lines.findIndex(pred);
      if (i >= 0) return this.#lines.splice(i, 1)[0]!;
      const err = this.#lines.find((o) => typeof o.error === "string");
      if (err) throw new Error(`${this.name}: ${err.error} ${JSON.stringify(err.failures ?? "")}`);
      if (this.#ended) throw new Error(`${this.name} exited (code ${this.#proc.exitCode}); stderr:\n${this.#stderr}`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no answer within ${timeoutMs} ms; stderr:\n${this.#stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#waiter = null;
    }
  }

  /** Sends a command and waits for its reply (`re` = the command's name). */
  async request(cmd: Record<string, unknown> & { cmd: string }, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    this.#proc.stdin.write(JSON.stringify(cmd) + "\n");
    this.#proc.stdin.flush();
    return this.next((o) => o.re === cmd.cmd, timeoutMs);
  }

  /** Asks politely, then kills. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#ended) return;
    try {
      this.#proc.stdin.write(JSON.stringify({ cmd: "exit" }) + "\n");
      this.#proc.stdin.flush();
      this.#proc.stdin.end();
    } catch {
      // stdin already closed: the kill below is enough.
    }
    await Promise.race([this.#proc.exited, Bun.sleep(graceMs)]);
    this.kill();
    await this.#proc.exited;
  }

  kill(): void {
    if (!this.#ended) this.#proc.kill("SIGKILL");
  }
}
