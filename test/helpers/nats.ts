/**
 * Real nats-server processes for cluster tests: one server with JetStream,
 * or a 3-server cluster (routes) for R3 streams. Loopback only, random
 * ports, a temp storage dir each; disposing kills them and removes the dirs.
 * Every wait is bounded.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer as createNetServer, type Server } from "node:net";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

/** Debian's path, else whatever `nats-server` is on PATH (as .ci/run accepts). */
export const NATS_SERVER = process.env.NATS_SERVER ?? (existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server");
const START_MS = 10_000;

export interface NatsProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** Cluster (route) port, when the server is part of a cluster. */
  readonly routePort: number | undefined;
  readonly running: boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same ports and storage dir. */
  restart(): Promise<void>;
}

interface Spec {
  name: string;
  dir: string;
  port: number;
  cluster?: { name: string; port: number; routes: string[] };
}

class NatsProcessImpl implements NatsProcess {
  #proc: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  routePort: number | undefined;
  port: number;

  constructor(readonly spec: Spec) {
    this.port = spec.port;
  }

  get name(): string {
    return this.spec.name;
  }
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  get running(): boolean {
    return this.#proc !== null;
  }

  async start(): Promise<void> {
    const s = this.spec;
    const args = ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", s.dir, "-n", s.name];
    if (s.cluster) args.push("--cluster_name", s.cluster.name, "--cluster", `nats://127.0.0.1:${this.routePort ?? s.cluster.port}`, ...(s.cluster.routes.length ? ["--routes", s.cluster.routes.join(",")] : []));
    const proc = spawn(NATS_SERVER, args, { stdio: ["ignore", "ignore", "pipe"] });
    this.#proc = proc;
    this.#exited = new Promise((r) => proc.once("exit", () => r()));
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server ${s.name} not ready within ${START_MS} ms:\n${log}`)), START_MS);
      proc.stderr!.on("data", (d) => {
        log += d;
        const client = /Listening for client connections on [^\s]+:(\d+)/.exec(log);
        if (client) this.port = Number(client[1]);
        const route = /Listening for route connections on [^\s]+:(\d+)/.exec(log);
        if (route) this.routePort = Number(route[1]);
        if (/Server is ready/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server ${s.name} exited ${code}:\n${log}`));
      });
    });
    // Keep draining stderr so the server never blocks on a full pipe.
    proc.stderr!.resume();
    this.spec.port = this.port;
    if (s.cluster) s.cluster.port = this.routePort!;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.#proc;
    if (!p) return;
    this.#proc = null;
    p.kill(signal);
    await this.#exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }
}

/** Waits (bounded) until JetStream answers on `url`: meta leader elected, account usable. */
export async function jetStreamReady(urls: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const nc = await connect({ servers: urls, timeout: 1000 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 1000 });
        await jsm.getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`JetStream not ready within ${timeoutMs} ms: ${String(last)}`);
}

export interface NatsSetup extends AsyncDisposable {
  servers: NatsProcess[];
  /** Every client URL, for a NATS client to fail over between. */
  urls: string[];
}

function setup(procs: NatsProcessImpl[], dirs: string[]): NatsSetup {
  return {
    servers: procs,
    get urls() {
      return procs.map((p) => p.url);
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(procs.map((p) => p.kill()));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** One nats-server with JetStream. */
export async function startNats(): Promise<NatsSetup> {
  const dir = mkdtempSync(join(tmpdir(), "tickgate-nats-"));
  const p = new NatsProcessImpl({ name: "n1", dir, port: -1 });
  const s = setup([p], [dir]);
  try {
    await p.start();
    await jetStreamReady(s.urls);
  } catch (e) {
    await s[Symbol.asyncDispose]();
    throw e;
  }
  return s;
}

/** Ports the OS hands out now; closed before use, so another process could take one (rare; start then fails loudly). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server>((resolve, reject) => {
      const srv = createNetServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => resolve(srv));
    })),
  );
  const ports = servers.map((srv) => (srv.address() as { port: number }).port);
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  return ports;
}

/** Three nats-servers routed into one JetStream cluster (for R3 streams). */
export async function startNatsCluster(): Promise<NatsSetup> {
  const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), "tickgate-nats-")));
  const cluster = `c${process.pid}${Math.random().toString(36).slice(2, 6)}`;
  // JetStream clustering needs routes configured up front, so route ports are chosen first.
  const routePorts = await freePorts(3);
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`);
  const procs = [0, 1, 2].map((i) => new NatsProcessImpl({ name: `n${i + 1}`, dir: dirs[i]!, port: -1, cluster: { name: cluster, port: routePorts[i]!, routes: routes.filter((_, j) => j !== i) } }));
  const s = setup(procs, dirs);
  try {
    await Promise.all(procs.map((p) => p.start()));
    await jetStreamReady(s.urls);
  } catch (e) {
    await s[Symbol.asyncDispose]();
    throw e;
  }
  return s;
}
