/**
 * Starts the real `tickgate serve` in a child process under Bun or under
 * Node (the CLI bundled for Node once per test run, uWebSockets.js loaded
 * natively), so one set of end-to-end tests runs against both adapters.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildForNode } from "../transport/uws-fixture/node-build.ts";

export type Runtime = "bun" | "node";
export const RUNTIMES: Runtime[] = ["bun", "node"];

const ROOT = join(import.meta.dir, "..", "..");
let nodeCli: Promise<string> | undefined;

export interface E2eServer extends AsyncDisposable {
  runtime: Runtime;
  port: number;
  url: string;
  wsUrl: string;
  stderr(): string;
  /** SIGTERM, then the exit code (the CLI exits 0 after a graceful shutdown). */
  terminate(): Promise<number | null>;
}

/** Starts `tickgate serve` (no demo) with `config` (written to a temp file) on port 0. */
export async function startServer(runtime: Runtime, config: Record<string, unknown> = {}): Promise<E2eServer> {
  const file = join(mkdtempSync(join(tmpdir(), "tickgate-e2e-")), "config.json");
  writeFileSync(file, JSON.stringify(config));
  const args = ["serve", "--port", "0", "--log-level", "warn", "--config", file, "--runtime", runtime];
  const cmd = runtime === "bun" ? [process.execPath, join(ROOT, "src/cli/main.ts")] : ["node", await (nodeCli ??= buildForNode(join(ROOT, "src/cli/main.ts"), "cli"))];
  const proc = spawn(cmd[0]!, [...cmd.slice(1), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stdout!.resume(); // JSON log lines; unread, they could fill the pipe
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    // The banner is for people and goes to stderr; stdout carries only JSON log lines.
    proc.stderr!.on("data", (d) => {
      err += d;
      const m = /tickgate listening on http:\/\/[^:]+:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    exited.then((code) => reject(new Error(`tickgate serve on ${runtime} exited ${code}: ${err}`)));
  });
  return {
    runtime,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    stderr: () => err,
    async terminate() {
      proc.kill("SIGTERM");
      return exited;
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await exited;
      }
    },
  };
}
