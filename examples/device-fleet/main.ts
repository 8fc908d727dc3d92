/**
 * `npm run example:device-fleet`: the server (auth required), a Pico that
 * speaks raw frames and authenticates with a header, an ESP32-CAM on the
 * client SDK's device role, an operator on the SDK watching `devices.>` and
 * commanding both, and two intruders from localhost (no token; a bad token)
 * that are refused. Runs until Ctrl-C (SIGINT) or SIGTERM.
 *
 *   npm run example:device-fleet -- [--port 3000] [--host 127.0.0.1] [--period-scale 1] [--log-level info|debug]
 *
 * Flags may come from the environment instead: PORT (0 picks a free port),
 * HOST, PERIOD_SCALE (multiplies every period and the auth deadline),
 * LOG_LEVEL. The HS256 secret comes from TICKGATE_AUTH_SECRET (at least 32
 * characters), or is generated and written to a file only the user can
 * read (mode 0600); the path is printed, never the secret.
 * @module
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Esp32Cam } from "./camera.ts";
import { SimDevice } from "./device.ts";
import { watchFleet } from "./operator.ts";
import { LEGACY_PATHS, start } from "./server.ts";
import { cliCommand } from "./tokens.ts";
import { closeOnSignal } from "tickgate/bun";

const { values: flags } = parseArgs({ options: { port: { type: "string" }, host: { type: "string" }, "period-scale": { type: "string" }, "log-level": { type: "string" } } });
const logLevel = flags["log-level"] ?? process.env.LOG_LEVEL ?? "info";
if (logLevel !== "info" && logLevel !== "debug") {
  console.error(`device-fleet: --log-level must be info or debug, not '${logLevel.slice(0, 32)}'`);
  process.exit(2);
}
const scale = Number(flags["period-scale"] ?? process.env.PERIOD_SCALE ?? 1);
const ms = (n: number) => Math.max(20, Math.round(n * scale));
const fromEnv = process.env.TICKGATE_AUTH_SECRET;
const fleet = await start({
  port: Number(flags.port ?? process.env.PORT ?? 3000),
  host: flags.host ?? process.env.HOST ?? "127.0.0.1",
  authTimeoutMs: ms(5000),
  redeliverMs: ms(2000),
  logLevel,
  ...(fromEnv ? { secret: fromEnv } : {}),
}).catch((e: Error) => {
  console.error(`device-fleet: ${e.message}`); // e.g. the port is taken, or the secret is too short
  process.exit(2);
});
const print = (l: string) => console.log(l);
// Tests and scripts read the port from this line.
console.log(`device-fleet listening on ${fleet.wsUrl} (auth required)`);
console.log(`old firmware (seed frames, same tokens): ${Object.values(LEGACY_PATHS).map((p) => fleet.server.url.replace(/^http/, "ws") + p).join(", ")}`);
let secretFile: string | undefined;
if (!fromEnv) {
  // Never printed: a file only this user can read.
  secretFile = join(mkdtempSync(join(tmpdir(), "device-fleet-")), "auth-secret");
  writeFileSync(secretFile, `${fleet.secret}\n`, { mode: 0o600 });
}
console.log(secretFile ? `HS256 secret (generated; set TICKGATE_AUTH_SECRET to choose one) in ${secretFile}` : "HS256 secret: from TICKGATE_AUTH_SECRET");
console.log(`mint a device token: ${secretFile ? `TICKGATE_AUTH_SECRET="$(cat ${secretFile})" ` : ""}${cliCommand("pico-2")}`);

const operator = await watchFleet(fleet.wsUrl, await fleet.operatorToken(), { print: (l) => print(`   [operator] ${l}`), telemetry: scale >= 1 });
const pico = (id: string, token: string | undefined, authVia: "header" | "frame", reconnectMs = 1000) =>
  new SimDevice({
    url: fleet.wsUrl,
    id,
    token,
    authVia,
    reconnectMs,
    logEveryMs: ms(10_000),
    telemetryEveryMs: ms(5_000),
    pingEveryMs: ms(30_000),
    print: (l) => print(`   [device] ${l}`),
  });
// Raw frames, as MicroPython firmware would send them.
const pico1 = pico("pico-1", await fleet.deviceToken("pico-1"), "header");
// On the SDK's device role.
const cam = new Esp32Cam({
  url: fleet.wsUrl,
  id: "esp32cam-1",
  token: await fleet.deviceToken("esp32cam-1"),
  logEveryMs: ms(10_000),
  telemetryEveryMs: ms(5_000),
  pingEveryMs: ms(30_000),
  print: (l) => print(`   [device] ${l}`),
});
await Promise.all([pico1.start(), cam.start()]);
const f = await operator.fleet();
print(`   [operator] fleet: ${f.devicesOnline} device(s) online, ${f.connections} connection(s) ${JSON.stringify(f.sessions)}`);

// The two refusals the seed got wrong, tried from localhost with the same firmware.
const intruders = [
  pico("pico-x", undefined, "frame", 0), // no token at all: refused at the auth deadline (4408)
  pico("pico-y", `${await fleet.deviceToken("pico-y")}x`, "frame", 0), // a bad signature: refused at once (4401)
];
for (const d of intruders) {
  d.start().then(
    () => print(`   [intruder] ${d.name} got in?!`),
    () => print(`   [intruder] ${d.name} refused with close code ${d.lastClose?.code} — no localhost exception`),
  );
}

// The operator commands each device in turn and waits for its answer (printed by the operator).
const plan: [string, string, unknown][] = [
  ["pico-1", "read_sensors", {}],
  ["esp32cam-1", "capture", { resolution: "SVGA" }],
  ["pico-1", "blink", { times: 3 }],
  ["esp32cam-1", "set_flash", { on: true }],
  ["esp32cam-1", "self_destruct", {}], // refused by the camera: UNKNOWN_COMMAND
];
let n = 0;
const commandTimer = setInterval(() => {
  const [id, name, data] = plan[n++ % plan.length]!;
  operator.command(id, name, data).catch(() => {}); // printed either way
}, ms(4000));

// Ctrl-C / SIGTERM: the devices leave normally (presence offline, reason normal), then the
// operator; the server closes every other connection with 1001 and the process exits 0.
process.once("exit", (code) => console.log(code === 0 ? "stopped" : `exited with ${code}`));
closeOnSignal(fleet.server, async () => {
  console.log("\nstopping");
  clearInterval(commandTimer);
  for (const d of [pico1, ...intruders]) d.stop();
  cam.stop();
  await pico1.closed();
  await Bun.sleep(50); // let the operator hear the devices' presence go offline
  operator.stop();
});
