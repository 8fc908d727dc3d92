/**
 * `tickgate serve`: the server, with the demo feeds unless --no-demo. Runs
 * until SIGTERM or SIGINT, then shuts down gracefully and exits 0.
 * @module
 */
import pino from "pino";
import { scriptRoute, serve as startServer } from "../../adapter/bun/index.ts";
import { DASHBOARD_ENTRY, DEMO_POLICIES, installDemo, type DemoOptions } from "../../demo/index.ts";
import { EXIT_CODES_HELP, Exit, UsageError, intFlag, numberFlag, parseFlags, type Command } from "../command.ts";
import { authFromEnv, optionsFromEnv, optionsFromFlags, readConfigFile, resolveAuthFiles } from "../config.ts";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

const HELP = `tickgate serve — run the WebSocket pub/sub server

Usage:
  tickgate serve [--port N] [--host H] [--config FILE] [--log-level L]
                 [--no-demo] [--symbols A,B] [--rate N] [--devices N] [--device-interval MS]

Options:
  --port N              port to listen on (env TICKGATE_PORT; default 8080, 0 picks one)
  --host H              address to bind (env TICKGATE_HOST; default 127.0.0.1)
  --config FILE         JSON config file (env TICKGATE_CONFIG)
  --log-level L         ${LOG_LEVELS.join(", ")} (env TICKGATE_LOG_LEVEL; default info)
  -h, --help            this help

Demo feeds (on unless --no-demo or TICKGATE_DEMO=0):
  --no-demo             do not start the demo feeds
  --symbols A,B         market symbols, ticks on prices.<SYMBOL> (default BTC-USD,ETH-USD,...)
  --rate N              market ticks per second, over all symbols (default 20)
  --devices N           simulated devices on devices.<id>.telemetry / .status (default 12; 0: none)
  --device-interval MS  mean time between one device's readings (default 1000)

Options come from the config file, then the environment, then flags.
SIGTERM or SIGINT drains: /ready answers 503 for drainMs (config; default 0),
then every connection is closed with 1001 and the process exits 0. A second
signal ends the drain period at once.

${EXIT_CODES_HELP}
`;

const FLAGS = {
  port: { type: "string" },
  host: { type: "string" },
  config: { type: "string" },
  "no-demo": { type: "boolean" },
  "log-level": { type: "string" },
  symbols: { type: "string" },
  rate: { type: "string" },
  devices: { type: "string" },
  "device-interval": { type: "string" },
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
  const demo = !values["no-demo"] && env.TICKGATE_DEMO !== "0";
  const demoOpts = demo ? demoOptions(values) : undefined;
  const configPath = values.config ?? env.TICKGATE_CONFIG;
  const fromFile = configPath ? readConfigFile(configPath) : {};
  const options: Record<string, unknown> = { ...fromFile, ...optionsFromEnv(env), ...optionsFromFlags(values) };
  const fileAuth = (fromFile.auth ?? {}) as Record<string, unknown>;
  const envAuth = authFromEnv(env);
  if (fromFile.auth !== undefined || Object.keys(envAuth).length > 0) options.auth = resolveAuthFiles({ ...fileAuth, ...envAuth });
  // Demo rules go last: a config's own rules for the same topics win.
  if (demo) options.policies = [...((options.policies as unknown[]) ?? []), ...DEMO_POLICIES];

  const log = pino({ level, base: { service: "tickgate" } });
  const server = await startServer(options, { log });
  const stopDemo = installDemo(server, { script: scriptRoute(DASHBOARD_ENTRY), feeds: demoOpts ?? false });
  const host = server.options.host.includes(":") ? `[${server.options.host}]` : server.options.host;
  const url = `http://${host}:${server.port}`;
  const ws = `${url.replace("http", "ws")}${server.options.path}`;
  log.info({ event: "listening", url, ws, demo, auth: server.options.auth.required }, "tickgate listening");
  if (!server.options.auth.required && !/^(127\.|::1$|localhost$)/.test(server.options.host)) {
    log.warn({ event: "insecure", host: server.options.host }, "listening beyond loopback with auth off: anyone who can reach this port may subscribe and publish; set auth.required (see README, Securing tickgate)");
  }
  // Tests and scripts read the port from this line.
  process.stdout.write(`tickgate listening on ${url}  (WebSocket ${ws})${demo ? " — open it for live demo ticks" : ""}\n`);

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
  });
}

export const serve: Command = { name: "serve", summary: "run the server (the default command)", help: HELP, run };
