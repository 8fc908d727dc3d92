/**
 * The soak's server: `tickgate serve` as a child process, its port read
 * from the line it prints when listening, stdout and stderr drained (the
 * tail kept for a crash report), stopped with SIGTERM as an operator would.
 * @module
 */
import type { Subprocess } from "bun";

export interface ServerProc {
  pid: number;
  port: number;
  url: string;
  /** Exit code once it has exited, else null. */
  exitCode(): number | null;
  /** The last 8 KiB of stderr and error-level log lines. */
  stderr(): string;
  /** SIGTERM, then the exit code (SIGKILL after 10 s). */
  stop(): Promise<number | null>;
}

export async function startServer(argv: string[]): Promise<ServerProc> {
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let tail = "";
  const keep = (s: string) => (tail = (tail + s).slice(-8192));
  // The banner goes to stderr (stdout carries only JSON log lines): the port is read there.
  let resolvePort: (port: number) => void = () => {};
  const port = new Promise<number>((resolve, reject) => {
    resolvePort = resolve;
    void proc.exited.then(() => reject(new Error(`tickgate serve exited before listening: ${tail}`)));
  });
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stdout) {
      // pino lines at warn and above are what a crash report needs.
      for (const line of dec.decode(chunk, { stream: true }).split("\n")) if (/"level":(4|5|6)0/.test(line)) keep(line + "\n");
    }
  })();
  void (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stderr) {
      const text = dec.decode(chunk, { stream: true });
      keep(text);
      if (buf.length < 65536) {
        buf += text;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(buf);
        if (m) resolvePort(Number(m[1]));
      }
    }
  })();
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const p = await port.finally(() => clearTimeout(timer));
  return {
    pid: proc.pid,
    port: p,
    url: `http://127.0.0.1:${p}`,
    exitCode: () => proc.exitCode,
    stderr: () => tail,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      const code = await proc.exited;
      clearTimeout(killer);
      return code;
    },
  };
}
