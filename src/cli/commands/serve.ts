/**
 * `tickgate serve`: the server, with the demo feeds and dashboard only when
 * asked (--demo or TICKGATE_DEMO=1). Runs until SIGTERM or SIGINT, then
 * shuts down gracefully and exits 0. Logs are pino JSON lines on stdout; the
 * one human line saying where it listens goes to stderr.
 * @module
 */
import pino from "pino";
import type { UserOptions } from "../../core/options.ts";
import { DASHBOARD_ENTRY, DEMO_POLICIES, installDemo, type DemoOptions } from "../../demo/index.ts";
import { connectBus } from "../../cluster/index.ts";
import { parseOptions } from "../../core/options.ts";
import { EXIT_CODES_HELP, Exit, UsageError, intFlag, numberFlag, parseFlags, type Command } from "../command.ts";
import { authFromEnv, demoFromEnv, DEMO_ENV_VALUES, optionsFromEnv, optionsFromFlags, readConfigFile, resolveAuthFiles } from "../config.ts";
import { runtime, scriptRoute, startServer } from "../runtime.ts";
import { runWorkers, workersFlag } from "../workers/run.ts";
import { attachWorker, workerIndex } from "../workers/worker.ts";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export const HELP = `tickgate serve — run the WebSocket pub/sub server

Usage:
  tickgate serve [--port N] [--host H] [--config FILE] [--log-level L] [--nats URL] [--runtime R]
                 [--workers N|auto] [--admin-port N]
                 [--demo] [--symbols A,B] [--rate N] [--devices N] [--device-interval MS]

Options:
  --port N              port to listen on (env TICKGATE_PORT; default 8080, 0 picks one)
  --host H              address to bind (env TICKGATE_HOST; default 127.0.0.1)
  --config FILE         JSON config file (env TICKGATE_CONFIG); every option: docs/config.md
  --log-level L         ${LOG_LEVELS.join(", ")} (env TICKGATE_LOG_LEVEL; default info)
  --nats URL            share topics with other nodes over NATS JetStream (URLs comma-separated;
                        sets cluster.nats, see docs/scaling.md)
  --runtime R           bun (Bun.serve) or node (uWebSockets.js); default: the one running
  --workers N           N worker processes on the one port (SO_REUSEPORT), joined over NATS;
                        auto: one per core (default 1). Without --nats or cluster.nats a local
                        nats-server is started if installed, else this is refused
  --admin-port N        with --workers above 1: /health, /ready and /metrics for all workers
                        on this port (default 0: a free one, printed at start)
  -h, --help            this help

Environment (each sets the option named; docs/config.md has them all):
  TICKGATE_PATH, TICKGATE_DEFAULT_ENCODING, TICKGATE_IDLE_TIMEOUT_SEC,
  TICKGATE_MAX_FRAME_BYTES, TICKGATE_TRUSTED_PROXIES, TICKGATE_AUTH_SECRET,
  TICKGATE_AUTH_REQUIRED

Demo (off unless --demo or TICKGATE_DEMO=${DEMO_ENV_VALUES.on.join("|")}):
  --demo                serve the live dashboard at / with simulated feeds
                        (fake prices on prices.*, fake devices on devices.*)
  --no-demo             no demo, whatever TICKGATE_DEMO says
  --symbols A,B         market symbols, ticks on prices.<SYMBOL> (default BTC-USD,ETH-USD,...)
  --rate N              market ticks per second, over all symbols (default 20)
  --devices N           simulated devices on devices.<id>.telemetry / .status (default 12; 0: none)
  --device-interval MS  mean time between one device's readings (default 1000)

Options come from the config file, then the environment, then flags.
Runs on Bun, or on Node with the native uWebSockets.js build (--runtime node).
SIGTERM or SIGINT drains: /ready answers 503 for drainMs (config; default 0),
then every connection is closed with 1001 and the process exits 0. A second
signal ends the drain period at once.

${EXIT_CODES_HELP}
`;

const FLAGS = {
  port: { type: "string" },
  host: { type: "string" },
  config: { type: "string" },
  demo: { type: "boolean" },
  "no-demo": { type: "boolean" },
  "log-level": { type: "string" },
  runtime: { type: "string" },
  symbols: { type: "string" },
  rate: { type: "string" },
  devices: { type: "string" },
  "device-interval": { type: "string" },
  nats: { type: "string" },
  workers: { type: "string" },
  "admin-port": { type: "string" },
} as const;

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

/** Demo feed options from flags; checked before the server starts. */
export function demoOptions(values: Flags): DemoOptions {
  const symbols = values.symbols?.split(",").map((s) => s.trim()).filter(Boolean);
  if (symbols !== undefined && symbols.length === 0) throw new UsageError("--symbols needs at least one symbol");
  const devices = intFlag(values.devices, "--devices", 12, 0, 10_000);
  const opts: DemoOptions = {
    market: { rate: numberFlag(values.rate, "--rate", 20, 0.1, 100_000), ...(symbols ? { symbols } : {}) },
    devices: devices === 0 ? false : { count: devices, intervalMs: intFlag(values["device-interval"], "--device-interval", 1000, 10, 3_600_000) },
  };
  return opts;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS);
  if (positionals.length > 0) throw new UsageError(`serve takes no arguments, got '${positionals[0]}'`);
  const env = process.env;
  const level = values["log-level"] ?? env.TICKGATE_LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got '${level}'`);
  if (values.demo && values["no-demo"]) throw new UsageError("--demo and --no-demo exclude each other");
  const demo = values["no-demo"] ? false : (values.demo ?? demoFromEnv(env.TICKGATE_DEMO));
  const stray = (["symbols", "rate", "devices", "device-interval"] as const).find((k) => values[k] !== undefined);
  if (!demo && stray) throw new UsageError(`--${stray} shapes the demo feeds; add --demo`);
  const demoOpts = demo ? demoOptions(values) : undefined;
  const configPath = values.config ?? env.TICKGATE_CONFIG;
  const fromFile = configPath ? readConfigFile(configPath) : {};
  const options: Record<string, unknown> = { ...fromFile, ...optionsFromEnv(env), ...optionsFromFlags(values) };
  const fileAuth = (fromFile.auth ?? {}) as Record<string, unknown>;
  const envAuth = authFromEnv(env);
  if (fromFile.auth !== undefined || Object.keys(envAuth).length > 0) options.auth = resolveAuthFiles({ ...fileAuth, ...envAuth });
  // Demo rules go last: a config's own rules for the same topics win.
  if (demo) options.policies = [...((options.policies as unknown[]) ?? []), ...DEMO_POLICIES];

  const on = values.runtime ?? runtime().name;
  if (on !== "bun" && on !== "node") throw new UsageError(`--runtime must be bun or node, got '${on}'`);
  if (values.nats !== undefined) options.cluster = { ...((options.cluster as object) ?? {}), nats: values.nats };

  const worker = workerIndex();
  const log = pino({ level, base: worker === undefined ? { service: "tickgate" } : { service: "tickgate", worker } });
  const workers = workersFlag(values.workers);
  if (values["admin-port"] !== undefined && workers < 2) throw new UsageError("--admin-port is for --workers above 1");
  if (workers > 1 && worker === undefined) {
    const p = parseOptions(options);
    const adminPort = intFlag(values["admin-port"], "--admin-port", 0, 0, 65_535);
    return runWorkers({ count: workers, argv, host: p.host, port: p.port, adminPort, nats: p.cluster ? String(p.cluster.nats) : undefined, demo, wsPath: p.path, log });
  }
  // A cluster node gets its bus before the server starts: a NATS it cannot reach fails the start.
  const parsed = parseOptions(options);
  const bus = parsed.cluster ? await connectBus(parsed) : undefined;
  if (parsed.cluster) log.info({ event: "cluster", nats: parsed.cluster.nats, name: parsed.cluster.name, epoch: bus!.epoch }, "sharing topics over NATS");
  const server = await startServer(options as UserOptions, bus ? { log, bus } : { log }, { on, reusePort: worker !== undefined });
  const stopDemo = demoOpts ? installDemo(server, { script: await scriptRoute(DASHBOARD_ENTRY), feeds: demoOpts }) : () => {};
  const url = server.url;
  const ws = server.wsUrl;
  log.info({ event: "listening", url, ws, demo, auth: server.options.auth.required }, "tickgate listening");
  if (!server.options.auth.required && !/^(127\.|::1$|localhost$)/.test(server.options.host)) {
    log.warn({ event: "insecure", host: server.options.host }, "listening beyond loopback with auth off: anyone who can reach this port may subscribe and publish; set auth.required (see README, Securing tickgate)");
  }
  // For people, on stderr: stdout carries only JSON log lines. Tests and scripts read the port from it.
  // A worker leaves the line to its supervisor, which prints it once every worker listens.
  if (worker === undefined) process.stderr.write(`tickgate listening on ${url}  (WebSocket ${ws})${demo ? " — open it for the live demo" : ""}\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      // A second signal ends the drain period (drainMs) at once.
      if (stopping) return void server.close({ drainMs: 0 });
      stopping = true;
      log.info({ event: "shutdown", signal }, "shutting down");
      stopDemo();
      server.close().then(
        () => resolve(Exit.OK),
        (e) => {
          log.error({ err: String(e) }, "shutdown failed");
          resolve(Exit.FAILURE);
        },
      );
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
    if (worker !== undefined) attachWorker(server, shutdown);
  });
}

export const serve: Command = { name: "serve", summary: "run the server (the default command)", help: HELP, run };
