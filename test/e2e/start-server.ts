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

/** Starts `tickgate serve --no-demo` with `config` (written to a temp file) on port 0. */
export async function startServer(runtime: Runtime, config: Record<string, unknown> = {}): Promise<E2eServer> {
  const file = join(mkdtempSync(join(tmpdir(), "tickgate-e2e-")), "config.json");
  writeFileSync(file, JSON.stringify(config));
  const args = ["serve", "--port", "0", "--no-demo", "--log-level", "warn", "--config", file, "--runtime", runtime];
  const cmd = runtime === "bun" ? [process.execPath, join(ROOT, "src/cli/main.ts")] : ["node", await (nodeCli ??= buildForNode(join(ROOT, "src/cli/main.ts"), "cli"))];
  return spawnServer(runtime, [...cmd, ...args], /tickgate listening on http:\/\/[^:]+:(\d+)/);
}

/** Starts a fixture server script (test/e2e/fixtures/) under `runtime`; it prints `listening <port>`. */
export async function startFixture(runtime: Runtime, name: string): Promise<E2eServer> {
  const entry = join(import.meta.dir, "fixtures", `${name}.ts`);
  const cmd = runtime === "bun" ? [process.execPath, entry] : ["node", await (fixtures[name] ??= buildForNode(entry, `e2e-${name}`))];
  return spawnServer(runtime, cmd, /listening (\d+)/);
}
const fixtures: Record<string, Promise<string>> = {};

async function spawnServer(runtime: Runtime, cmd: string[], ready: RegExp): Promise<E2eServer> {
  const proc = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  // The CLI says where it listens on stderr (stdout carries its log); a fixture on stdout.
  const port = await new Promise<number>((resolve, reject) => {
    const look = () => {
      const m = ready.exec(out) ?? ready.exec(err);
      if (m) resolve(Number(m[1]));
    };
    proc.stdout!.on("data", (d) => ((out += d), look()));
    proc.stderr!.on("data", (d) => ((err += d), look()));
    exited.then((code) => reject(new Error(`${cmd.join(" ")} on ${runtime} exited ${code}: ${err}`)));
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
