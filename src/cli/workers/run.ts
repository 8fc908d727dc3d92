/**
 * `tickgate serve --workers N` with N above 1: finds the cluster bus (the
 * configured NATS, else a local nats-server it starts), runs the
 * {@link Supervisor} and its admin port, and turns signals into a graceful
 * stop of every worker. Runs once; nothing per message.
 * @module
 */
import { availableParallelism } from "node:os";
import type { Logger } from "pino";
import { httpUrl } from "../../core/api.ts";
import { CommandFailed, Exit, UsageError, intFlag } from "../command.ts";
import { startAdmin } from "./admin.ts";
import { findNatsServer, NEEDS_NATS, startLocalNats, type LocalNats } from "./local-nats.ts";
import { Supervisor } from "./supervisor.ts";

/** `--workers`: a count from 1 to 256, or `auto` for one per core. */
export function workersFlag(raw: string | undefined): number {
  if (raw === "auto") return availableParallelism();
  return intFlag(raw, "--workers", 1, 1, 256);
}

/** Flags only the supervisor reads; workers get every other flag as given. */
const SUPERVISOR_FLAGS = ["--workers", "--admin-port"];

/** The serve arguments a worker gets: the supervisor's, minus its own flags and the port (added per spawn). */
export function workerArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const name = a.split("=")[0]!;
    if ([...SUPERVISOR_FLAGS, "--port"].includes(name)) {
      if (!a.includes("=")) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

export interface WorkersRun {
  count: number;
  argv: string[];
  host: string;
  port: number;
  adminPort: number;
  /** The configured NATS URLs, or undefined to start a local nats-server. */
  nats: string | undefined;
  demo: boolean;
  /** The WebSocket path, for the line that says where to connect. */
  wsPath: string;
  log: Logger;
}

export async function runWorkers(r: WorkersRun): Promise<number> {
  if (r.demo) throw new UsageError("--demo runs in one process: drop --demo or --workers");
  let local: LocalNats | undefined;
  const extra: string[] = [];
  if (r.nats === undefined) {
    const exe = findNatsServer();
    if (!exe) throw new UsageError(NEEDS_NATS);
    local = await startLocalNats(exe);
    extra.push("--nats", local.url);
    r.log.info({ event: "local_nats", url: local.url, pid: local.pid, exe }, "no NATS configured: started a local nats-server (JetStream, loopback, temp store) for the workers");
  }
  const entry = process.argv[1]!;
  const sup = new Supervisor({ count: r.count, argv: [entry, "serve", ...workerArgs(r.argv), ...extra], env: process.env, port: r.port, log: r.log });
  let admin: Awaited<ReturnType<typeof startAdmin>> | undefined;
  try {
    admin = await startAdmin(sup, r.count, r.host, r.adminPort);
  } catch (e) {
    await local?.stop();
    throw new CommandFailed(`--admin-port ${r.adminPort}: ${(e as Error).message}`);
  }
  const address = admin.address();
  const adminUrl = httpUrl(r.host, typeof address === "object" && address ? address.port : r.adminPort);
  const onSignal = (signal: string) => void sup.stop(signal);
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  void local?.exited.then((code) => sup.stop("nats-server exited", Exit.FAILURE, `the local nats-server exited (code ${code}); stopped the workers`));
  sup.start();
  void sup.allReady.then(() => {
    const url = httpUrl(r.host, sup.port);
    r.log.info({ event: "listening", url, workers: r.count, admin: adminUrl }, "tickgate workers listening");
    process.stderr.write(`tickgate listening on ${url}  (WebSocket ${url.replace("http", "ws")}${r.wsPath}; ${r.count} workers, admin on ${adminUrl})\n`);
  });
  const end = await sup.done;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  await new Promise((res) => admin!.close(res));
  await local?.stop();
  r.log.info({ event: "stopped", code: end.code }, "workers stopped");
  if (end.why) throw new CommandFailed(end.why);
  return end.code;
}
