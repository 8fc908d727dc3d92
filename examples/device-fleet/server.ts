/**
 * External device connections (seed 004) on tickgate: Pico and ESP32-CAM
 * devices with tokens, logs, telemetry, presence and acknowledged commands.
 * Auth is required for everyone, localhost included; there is no endpoint
 * that hands out tokens.
 *
 * Started by main.ts (`npm run example:device-fleet`); tests call {@link start}.
 * @module
 */
import { randomBytes } from "node:crypto";
import type { Logger, TickgateServer } from "tickgate";
import { createServer } from "tickgate/bun";
import { device004 } from "tickgate/legacy";
import { startFleetLog, type LogLevel } from "./fleet-log.ts";
import { DEVICE_GRANTS, mint, OPERATOR_GRANTS } from "./tokens.ts";

export interface DeviceFleetOptions {
  port?: number;
  host?: string;
  /** HS256 secret, at least 32 characters; default: generated. */
  secret?: string;
  /** A connection without a token must authenticate within this (default 5000 ms), or is closed with 4408. */
  authTimeoutMs?: number;
  /** Dropped when silent this long; native pings go out 16 s before (seed: 120 s). */
  idleTimeoutSec?: number;
  /** Resend an unacknowledged command this often (default 2000 ms). */
  redeliverMs?: number;
  print?: (line: string) => void;
  /** `debug`: also every message on `devices.>`, with its contents (default `info`). */
  logLevel?: LogLevel;
  /**
   * Firmware not yet reflashed keeps the old frames on its old paths
   * (`/ws/pico`, `/ws/esp32cam`), with the same tokens and topics; `false`
   * turns them off. See docs/migrating/device-fleet.md.
   */
  legacy?: boolean;
  /** The old protocol's JSON ping period (seed: 120 s). */
  legacyPingMs?: number;
}

/** The old firmware's endpoints and the device kind each serves. */
export const LEGACY_PATHS = { pico: "/ws/pico", esp32cam: "/ws/esp32cam" } as const;

export interface DeviceFleet {
  server: TickgateServer;
  port: number;
  wsUrl: string;
  secret: string;
  /** A device token for `sub` (signed as `tickgate token --client device ...` signs it). */
  deviceToken(sub: string): Promise<string>;
  operatorToken(sub?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Refusals and first-frame authentications, with the address and who it was (connects and disconnects: fleet-log.ts). */
function securityLog(print: (line: string) => void): Logger {
  return {
    debug: () => {},
    info(f) {
      if (f.event === "auth") print(`🔑 authenticated ${f.who} from ${f.ip} (auth frame)`);
    },
    warn(f, msg) {
      if (f.event === "auth_failed") print(`⛔ auth failed (${f.via}) from ${f.ip ?? "?"}: ${f.reason}`);
      else if (f.event === "auth_timeout") print(`⛔ no auth in time from ${f.ip}: closing 4408`);
      else if (f.event === "forbidden") print(`⛔ forbidden: ${f.who} from ${f.ip} may not ${f.action} '${f.target}'`);
      else print(`⚠️ ${msg} ${JSON.stringify(f)}`);
    },
    error: (f, msg) => print(`❌ ${msg} ${JSON.stringify(f)}`),
  };
}

export async function start(opts: DeviceFleetOptions = {}): Promise<DeviceFleet> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const secret = opts.secret ?? randomBytes(32).toString("hex");
  const server = createServer(
    {
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? 3000,
      idleTimeoutSec: opts.idleTimeoutSec ?? 120,
      shutdownGraceMs: 1000,
      auth: { required: true, secret, timeoutMs: opts.authTimeoutMs ?? 5000 },
      devices: { presence: true, redeliverMs: opts.redeliverMs ?? 2000, commandTtlMs: 60_000 },
      // Declared, so the welcome lists it and anything else is refused
      // (UNKNOWN_TOPIC): devices.<id>.presence, .log, .telemetry, .alerts.
      // One entry, because the operator watches the whole tree with devices.>.
      topics: ["devices.>"],
      policies: [
        // An operator that connects sees every device's last reading at once
        // (presence is retained, and written by the server only, out of the box).
        { match: "devices.*.telemetry", retain: true, action: "conflate" },
        // Written by the server from `log` frames; a device cannot publish here directly.
        { match: "devices.*.log", historySize: 500, publish: "server" },
        // Devices' last wills ("lost"), kept so an operator who reconnects replays what it missed.
        { match: "devices.*.alerts", historySize: 100 },
      ],
    },
    { log: securityLog(print) },
  );
  if (opts.legacy !== false) {
    const every = opts.legacyPingMs;
    server.legacy(device004({ kind: "pico", path: LEGACY_PATHS.pico, label: "Pico", ...(every ? { pingIntervalMs: every } : {}) }));
    server.legacy(device004({ kind: "esp32cam", path: LEGACY_PATHS.esp32cam, label: "ESP32-CAM", ...(every ? { pingIntervalMs: every } : {}) }));
  }
  await server.listen();
  // Read-only: the log's own connection may watch devices.> and nothing else.
  const logToken = await mint(secret, "fleet-log", { client: "api", subscribe: ["devices.>"] });
  const fleetLog = await startFleetLog(server, logToken, opts.logLevel ?? "info", print);
  return {
    server,
    port: server.port,
    wsUrl: server.wsUrl,
    secret,
    deviceToken: (sub) => mint(secret, sub, DEVICE_GRANTS),
    operatorToken: (sub = "operator") => mint(secret, sub, OPERATOR_GRANTS),
    stop: () => {
      fleetLog.stop();
      return server.close();
    },
  };
}
