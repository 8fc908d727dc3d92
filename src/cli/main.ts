#!/usr/bin/env bun
/**
 * `tickgate` command line. Exit codes: 0 ok, 1 runtime failure, 2 bad
 * usage or config.
 * @module
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { serve } from "../bun.ts";
import { ConfigError } from "../core/errors.ts";
import { DEMO_POLICIES, startDemo } from "../feeds/demo.ts";
import { optionsFromEnv, optionsFromFlags, readConfigFile } from "./config.ts";

const HELP = `tickgate — WebSocket pub/sub server

Usage:
  tickgate serve [--port N] [--host H] [--config FILE] [--no-demo]

Options:
  --port N        port to listen on (env TICKGATE_PORT; default 8080, 0 picks one)
  --host H        address to bind (env TICKGATE_HOST; default 127.0.0.1)
  --config FILE   JSON config file (env TICKGATE_CONFIG)
  --no-demo       do not start the demo feeds
  --log-level L   pino level: fatal, error, warn, info, debug (default info)
  -h, --help      this help
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      config: { type: "string" },
      "no-demo": { type: "boolean" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const cmd = positionals[0] ?? "serve";
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (cmd !== "serve") {
    process.stderr.write(`tickgate: unknown command '${cmd}'\n${HELP}`);
    return 2;
  }
  const env = process.env;
  const configPath = values.config ?? env.TICKGATE_CONFIG;
  const demo = !values["no-demo"] && env.TICKGATE_DEMO !== "0";
  const fromFile = configPath ? readConfigFile(configPath) : {};
  const options: Record<string, unknown> = { ...fromFile, ...optionsFromEnv(env), ...optionsFromFlags(values) };
  if (demo) options.policies = [...((options.policies as unknown[]) ?? []), ...DEMO_POLICIES];

  const log = pino({ level: values["log-level"] ?? env.TICKGATE_LOG_LEVEL ?? "info", base: { service: "tickgate" } });
  const server = await serve(options, { log });
  const stopDemo = demo ? startDemo(server) : () => {};
  const url = `http://${server.options.host.includes(":") ? `[${server.options.host}]` : server.options.host}:${server.port}`;
  log.info({ event: "listening", url, ws: `${url.replace("http", "ws")}${server.options.path}`, demo }, "tickgate listening");
  process.stdout.write(`tickgate listening on ${url}  (WebSocket ${url.replace("http", "ws")}${server.options.path})${demo ? " — open it for live demo ticks" : ""}\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: "shutdown", signal }, "shutting down");
    stopDemo();
    server.close().then(
      () => process.exit(0),
      (e) => {
        log.error({ err: String(e) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e) => {
    if (e instanceof ConfigError || (e as { code?: string }).code?.startsWith?.("ERR_PARSE_ARGS")) {
      process.stderr.write(`tickgate: ${(e as Error).message}\n`);
      process.exit(2);
    }
    process.stderr.write(`tickgate: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
