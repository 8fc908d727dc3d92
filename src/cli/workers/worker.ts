/**
 * The worker's side of `tickgate serve --workers N`: tells the supervisor
 * (over the IPC channel it was spawned with) that it listens, answers the
 * supervisor's admin requests by running them through the worker's own
 * HTTP routes (so `/metrics` keeps its admin-token check), and shuts down
 * when the supervisor goes away. Costs nothing per message.
 * @module
 */
import type { TickgateServer } from "../../core/api.ts";
import type { TickgateServerImpl } from "../../core/server.ts";

/** Set in a worker's environment: its index, 0-based. */
export const WORKER_ENV = "TICKGATE_WORKER";

/** Worker to supervisor. */
export type WorkerMessage =
  | { t: "ready"; port: number; pid: number }
  | { t: "http"; id: number; status: number; type: string; body: string };

/** Supervisor to worker: one admin HTTP request, run through the worker's routes. */
export interface HttpAsk {
  t: "http";
  id: number;
  path: string;
  headers: [string, string][];
  ip: string;
}

/** This process's worker index, or undefined when it is not a supervised worker. */
export function workerIndex(env: Record<string, string | undefined> = process.env): number | undefined {
  const raw = env[WORKER_ENV];
  return raw !== undefined && process.send ? Number(raw) : undefined;
}

/**
 * Reports `server` as listening and serves the supervisor's requests.
 * `stop` runs when the supervisor disappears (it was SIGKILLed): a worker
 * never outlives it.
 */
export function attachWorker(server: TickgateServer, stop: (why: string) => void): void {
  const send = (m: WorkerMessage) => process.send?.(m);
  const host = (server as unknown as TickgateServerImpl).host;
  process.on("message", async (raw: unknown) => {
    const m = raw as HttpAsk;
    if (m?.t !== "http") return;
    try {
      const res = await host.fetch(new Request(`http://worker${m.path}`, { headers: m.headers }), m.ip);
      send({ t: "http", id: m.id, status: res.status, type: res.headers.get("content-type") ?? "text/plain", body: await res.text() });
    } catch (e) {
      send({ t: "http", id: m.id, status: 500, type: "text/plain", body: String(e) });
    }
  });
  const parent = process.ppid;
  process.on("disconnect", () => stop("supervisor gone"));
  // Not every runtime reports the IPC channel closing; a changed parent pid is certain.
  setInterval(() => {
    if (process.ppid !== parent) stop("supervisor gone");
  }, 1000).unref();
  send({ t: "ready", port: server.port, pid: process.pid });
}
