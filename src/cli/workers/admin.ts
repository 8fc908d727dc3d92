/**
 * The supervisor's admin port (`--admin-port`): one `/health`, `/ready` and
 * `/metrics` for all workers, since the shared port answers from whichever
 * worker the kernel picked. `/metrics` runs each worker's own `/metrics`
 * (its admin-token check included) over IPC and merges them with a
 * `worker` label, plus the supervisor's own series. Costs one IPC round
 * trip per worker per request; nothing per message.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Counter, Gauge, Registry } from "prom-client";
import type { Supervisor } from "./supervisor.ts";

/**
 * Prometheus text from several workers as one exposition: each family's
 * HELP and TYPE once, then every worker's samples with `worker="i"` added.
 */
export function mergeMetrics(parts: { worker: number; body: string }[]): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  for (const { worker, body } of parts) {
    let current: { head: string[]; samples: string[] } | undefined;
    for (const line of body.split("\n")) {
      if (line === "") continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        let f = families.get(meta[2]!);
        if (!f) families.set(meta[2]!, (f = { head: [], samples: [] }));
        if (f.head.length < 2 && !f.head.some((h) => h.startsWith(`# ${meta[1]} `))) f.head.push(line);
        current = f;
        continue;
      }
      if (line.startsWith("#")) continue;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
      if (!name) continue;
      const rest = line.slice(name.length);
      const labelled = rest.startsWith("{") ? `${name}{worker="${worker}",${rest.slice(1)}` : `${name}{worker="${worker}"}${rest}`;
      if (!current) families.set(name, (current = { head: [], samples: [] }));
      current.samples.push(labelled.replace(`{worker="${worker}",}`, `{worker="${worker}"}`));
    }
  }
  let out = "";
  for (const f of families.values()) out += [...f.head, ...f.samples].join("\n") + "\n";
  return out;
}

/** The supervisor's own series: workers configured and ready, restarts per worker. */
function supervisorRegistry(sup: Supervisor, count: number): Registry {
  const registry = new Registry();
  new Gauge({ name: "tickgate_workers", help: "Worker processes the supervisor keeps running.", registers: [registry] }).set(count);
  new Gauge({
    name: "tickgate_workers_ready",
    help: "Worker processes listening now.",
    registers: [registry],
    collect() {
      this.set(sup.workers().filter((w) => w.state === "ready").length);
    },
  });
  new Counter({
    name: "tickgate_worker_restarts_total",
    help: "Times the supervisor restarted a worker that died.",
    labelNames: ["worker"],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of sup.workers()) this.inc({ worker: String(w.index) }, w.restarts);
    },
  });
  return registry;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}
const json = (res: ServerResponse, status: number, v: unknown) => send(res, status, "application/json", JSON.stringify(v));

async function handle(req: IncomingMessage, res: ServerResponse, sup: Supervisor, registry: Registry, count: number): Promise<void> {
  const path = new URL(req.url ?? "/", "http://admin").pathname;
  if (req.method !== "GET") return json(res, 405, { error: "method_not_allowed" });
  const workers = sup.workers();
  if (path === "/health") return sup.stopping ? json(res, 503, { status: "shutting_down", workers }) : json(res, 200, { status: "ok", workers });
  const headers: [string, string][] = req.headers.authorization ? [["authorization", req.headers.authorization]] : [];
  const ip = req.socket.remoteAddress ?? "";
  if (path === "/ready") {
    if (sup.stopping) return json(res, 503, { status: "shutting_down", workers });
    const answers = await sup.ask("/ready", headers, ip);
    const ready = answers.length === count && answers.every((a) => a.status === 200);
    return json(res, ready ? 200 : 503, { status: ready ? "ready" : "not_ready", ready: answers.filter((a) => a.status === 200).length, of: count, workers });
  }
  if (path === "/metrics") {
    const answers = await sup.ask("/metrics", headers, ip);
    // The workers' routes decide on the token; a refusal is passed on as it came.
    const refused = answers.find((a) => a.status === 401 || a.status === 403);
    if (refused) return send(res, refused.status, refused.type, refused.body);
    const body = mergeMetrics(answers.filter((a) => a.status === 200)) + (await registry.metrics());
    return send(res, 200, registry.contentType, body);
  }
  return json(res, 404, { error: "not_found" });
}

/** Starts the admin server on `host:port` (0 picks one); resolves with it once it listens. */
export function startAdmin(sup: Supervisor, count: number, host: string, port: number): Promise<Server> {
  const registry = supervisorRegistry(sup, count);
  const server = createServer((req, res) => {
    handle(req, res, sup, registry, count).catch((e) => json(res, 500, { error: String(e) }));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
