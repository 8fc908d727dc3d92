/**
 * A private nats-server for `tickgate serve --workers N` when no NATS is
 * configured: JetStream on, loopback only, a random port, its store in a
 * temp dir removed on stop. Runs once at start-up; nothing per message.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { CommandFailed } from "../command.ts";

const START_MS = 10_000;
const STOP_MS = 5_000;

/** Where nats-server is: on PATH, else Debian's /usr/sbin; undefined when neither. */
export function findNatsServer(env: Record<string, string | undefined> = process.env, debian = "/usr/sbin/nats-server"): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    const exe = join(dir, "nats-server");
    if (dir && existsSync(exe)) return exe;
  }
  return existsSync(debian) ? debian : undefined;
}

/** The one line printed when workers need a bus and there is neither --nats nor a nats-server. */
export const NEEDS_NATS = "--workers above 1 shares topics over NATS: add --nats URL (or cluster.nats in the config), or install nats-server so a local one can be started";

export interface LocalNats {
  readonly url: string;
  readonly pid: number;
  /** Resolves when the server exits on its own (not through stop). */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts nats-server on 127.0.0.1 with a random port; resolves once it says it is ready. */
export async function startLocalNats(exe: string): Promise<LocalNats> {
  const dir = mkdtempSync(join(tmpdir(), "tickgate-nats-"));
  const proc: ChildProcess = spawn(exe, ["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", dir], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  let log = "";
  let port = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new CommandFailed(`local nats-server not ready within ${START_MS} ms`)), START_MS);
      proc.once("error", (e) => {
        clearTimeout(timer);
        reject(new CommandFailed(`cannot start ${exe}: ${e.message}`));
      });
      proc.stderr!.on("data", (d) => {
        // The log only matters until the server is ready; after that it is dropped unread.
        if (port && /Server is ready/.test(log)) return;
        log += d;
        const m = /Listening for client connections on [^\s]+:(\d+)/.exec(log);
        if (m) port = Number(m[1]);
        if (port && /Server is ready/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      exited.then((code) => {
        clearTimeout(timer);
        reject(new CommandFailed(`local nats-server exited ${code} before it was ready: ${log.trim().split("\n").at(-1) ?? ""}`));
      });
    });
  } catch (e) {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  proc.stderr!.resume();
  let stopping = false;
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: proc.pid!,
    exited: exited.then((code) => (stopping ? new Promise<never>(() => {}) : code)),
    async stop() {
      stopping = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_MS);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
