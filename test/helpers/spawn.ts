/** Runs the real CLI in a child process and reads the port from the line it prints on stderr. */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
export const BUN = process.execPath;

export interface CliServer extends AsyncDisposable {
  proc: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

export async function startCli(args: string[], env: Record<string, string> = {}): Promise<CliServer> {
  const proc = spawn(BUN, ["src/cli/main.ts", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    proc.stderr!.on("data", (d) => {
      err += d;
      const m = /tickgate listening on http:\/\/(?:\[[^\]]+\]|[^:/]+):(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    exited.then((code) => reject(new Error(`cli exited ${code}: ${err}`)));
  });
  return {
    proc,
    port,
    stdout: () => out,
    stderr: () => err,
    exited,
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null) {
        proc.kill("SIGKILL");
        await exited;
      }
    },
  };
}

/** Runs the CLI to completion. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(BUN, ["src/cli/main.ts", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (d) => (stdout += d));
  proc.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  return { code, stdout, stderr };
}
