/**
 * examples/device-fleet (seed 004) end to end: the example's `start()` on
 * port 0 with auth required, its simulated devices (a Pico on raw frames,
 * an ESP32-CAM on the SDK's device role) and operator (on the SDK), the
 * wire protocol where a device or remote operator would speak it, the
 * refusals the seed got wrong, a token from the CLI, and the one command.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { CommandRefused, ClientErrorCode } from "tickgate/client";
import { RESERVED } from "../../src/core/requests.ts";
import { Esp32Cam, type CameraOptions } from "../../examples/device-fleet/camera.ts";
import { SimDevice, type DeviceOptions } from "../../examples/device-fleet/device.ts";
import { watchFleet } from "../../examples/device-fleet/operator.ts";
import { start, type DeviceFleet } from "../../examples/device-fleet/server.ts";
import { DEVICE_GRANTS, mint } from "../../examples/device-fleet/tokens.ts";
import { connect } from "../helpers/client.ts";
import { tryUpgrade } from "../helpers/tokens.ts";
import { startProxy } from "../client/support.ts";
import { internals } from "../../src/internal.ts";

const ROOT = join(import.meta.dir, "..", "..");
const SECRET = "device-fleet-test-secret-0123456789-abcdef";
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function fleet(opts: Parameters<typeof start>[0] = {}): Promise<DeviceFleet & { lines: string[] }> {
  const lines: string[] = [];
  const f = await start({ port: 0, secret: SECRET, authTimeoutMs: 300, redeliverMs: 100, print: (l) => lines.push(l), ...opts });
  cleanup.push(() => f.stop());
  return Object.assign(f, { lines });
}

/** A Pico on raw frames. */
function device(f: DeviceFleet, o: Partial<DeviceOptions> & Pick<DeviceOptions, "id">): SimDevice {
  const d = new SimDevice({ url: f.wsUrl, logEveryMs: 60_000, telemetryEveryMs: 60_000, pingEveryMs: 60_000, reconnectMs: 0, print: () => {}, ...o });
  cleanup.push(() => d.stop());
  return d;
}

/** An ESP32-CAM on the SDK. */
async function camera(f: DeviceFleet, o: Partial<CameraOptions> = {}): Promise<Esp32Cam> {
  const c = new Esp32Cam({ url: f.wsUrl, id: "esp32cam-1", token: await f.deviceToken(o.id ?? "esp32cam-1"), logEveryMs: 60_000, telemetryEveryMs: 60_000, pingEveryMs: 60_000, print: () => {}, ...o });
  cleanup.push(() => c.stop());
  return c;
}

async function operator(f: DeviceFleet) {
  const lines: string[] = [];
  const w = await watchFleet(f.wsUrl, await f.operatorToken(), { print: (l) => lines.push(l) });
  cleanup.push(() => w.stop());
  const waitFor = async (re: RegExp, timeoutMs = 20_000) => {
    const t0 = Date.now();
    while (!lines.some((l) => re.test(l))) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`operator never printed ${re}; got ${JSON.stringify(lines)}`);
      await Bun.sleep(10);
    }
    return lines.find((l) => re.test(l))!;
  };
  /** How many printed lines match. */
  const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
  return { lines, waitFor, count, client: w.client, watch: w };
}

async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

describe("device-fleet example: devices that authenticate", () => {
  test("a Pico on raw frames with an Authorization: Bearer header: hello, presence, logs, telemetry, ping", async () => {
    const f = await fleet();
    const op = await operator(f);
    const pico = device(f, { id: "pico-1", token: await f.deviceToken("pico-1"), authVia: "header", telemetryEveryMs: 50, pingEveryMs: 50 });
    await pico.start();
    expect(pico.received.find((x) => x.t === "welcome")).toMatchObject({ client: "device" });
    // (Presence would carry the hello's meta, but a token's device is announced before its hello: see the README.)
    await op.waitFor(/^presence pico-1: online( \(pico 1\.0\.0\))?$/);
    await op.waitFor(/^log pico-1 \[info\] pico firmware 1\.0\.0 booted$/);
    await op.waitFor(/^telemetry pico-1: \{"temperature_c":/);
    await until(() => pico.lastRttMs !== undefined); // the app-level ping got its pong
    expect(f.server.stats().devicesOnline).toBe(1);
    expect(f.server.sessions.device).toBe(1);
    pico.send({ t: "log", level: "warn", message: "battery at 9%" });
    await op.waitFor(/^log pico-1 \[warn\] battery at 9%$/);
    // Issue 15: the connect and disconnect lines name the device's kind (from its hello) and id.
    await until(() => f.lines.some((l) => /^🔗 device connected: kind=pico id=pico-1 version=1\.0\.0 ip=127\.0\.0\.1 session=\S+$/.test(l)));
    pico.stop();
    await op.waitFor(/^presence pico-1: offline \(normal, code 1000\)$/);
    await until(() => f.lines.includes("🔌 device disconnected: kind=pico id=pico-1 ip=127.0.0.1 code=1000"));
    expect(f.lines.filter((l) => l.startsWith("🔗 device connected"))).toHaveLength(1);
  });

  test("a raw device whose stack cannot set headers: a first {t:'auth', token} frame", async () => {
    const f = await fleet();
    const op = await operator(f);
    const pico = device(f, { id: "pico-2", token: await f.deviceToken("pico-2"), authVia: "frame" });
    await pico.start();
    expect(pico.received.some((x) => x.t === "ack" && x.id === "auth")).toBe(true);
    await op.waitFor(/^presence pico-2: online/);
    expect(f.lines).toContain("🔑 authenticated pico-2 from 127.0.0.1 (auth frame)");
  });

  test("the ESP32-CAM on the SDK's device role: token, hello with meta, presence, logs, telemetry, heartbeat", async () => {
    const f = await fleet();
    const op = await operator(f);
    const cam = await camera(f, { telemetryEveryMs: 50, pingEveryMs: 50 });
    await cam.start();
    expect(cam.client.welcome?.client).toBe("device"); // from the token's tg.client
    await op.waitFor(/^presence esp32cam-1: online( \(esp32cam 1\.0\.0\))?$/);
    await op.waitFor(/^log esp32cam-1 \[info\] esp32cam firmware 1\.0\.0 booted$/);
    await op.waitFor(/^telemetry esp32cam-1: \{"fps":/);
    await until(() => cam.client.stats().rttMs !== undefined); // the SDK's heartbeat got its pong
    const stats = await cam.client.serverStats();
    expect(stats.session).toMatchObject({ client: "device", who: "esp32cam-1", device: "esp32cam-1", meta: { kind: "esp32cam", version: "1.0.0" } });
    await until(() => f.lines.some((l) => /^🔗 device connected: kind=esp32cam id=esp32cam-1 version=1\.0\.0 ip=127\.0\.0\.1 session=\S+$/.test(l)));
    const fleetView = await op.watch.fleet(); // the operator's short summary: no admin grant
    expect(fleetView).toMatchObject({ devicesOnline: 1, sessions: { device: 1, api: 2 } }); // the operator and the fleet log's reader
    expect(fleetView.topics).toBeUndefined();
    cam.stop();
    await op.waitFor(/^presence esp32cam-1: offline \(normal, code 1000\)$/);
    await until(() => f.lines.includes("🔌 device disconnected: kind=esp32cam id=esp32cam-1 ip=127.0.0.1 code=1000"));
    expect(op.count(/^alert /)).toBe(0); // a normal close leaves no will
    expect(cam.errors).toEqual([]);
  });

  test("a camera whose connection drops: the server publishes its will; the SDK reconnects by itself", async () => {
    const f = await fleet();
    const op = await operator(f);
    await using proxy = await startProxy(f.port);
    const cam = await camera(f, { url: proxy.url });
    await cam.start();
    await op.waitFor(/^presence esp32cam-1: online/);
    proxy.drop(); // power or network gone: no close frame
    await op.waitFor(/^alert esp32cam-1: lost \(connection dropped\)$/);
    await op.waitFor(/^presence esp32cam-1: offline \(abnormal, code 1006\)$/);
    // Back on its own, announced again; and commands work again.
    await until(() => op.count(/^presence esp32cam-1: online/) === 2, 5000);
    expect(await op.client.command("esp32cam-1", "set_flash", { on: true }, { ttlMs: 3000 })).toEqual({ ok: true, flash: true });
    expect(cam.client.stats().reconnects).toBe(1);
  });

  test("the operator commands both with client.command(); a redelivered command runs once; an unknown one is refused (command_nack)", async () => {
    const f = await fleet({ redeliverMs: 60 });
    const op = await operator(f);
    // Both take longer than two redeliveries: the same command id arrives again while it runs.
    const cam = await camera(f, { commandMs: 250 });
    const pico = device(f, { id: "pico-1", token: await f.deviceToken("pico-1"), commandMs: 250 });
    await Promise.all([cam.start(), pico.start()]);
    const before = internals(f.server).devices.counters.redeliveries;
    expect(await op.client.command("esp32cam-1", "capture", { resolution: "SVGA" }, { ttlMs: 3000 })).toMatchObject({ ok: true, resolution: "SVGA", bytes: expect.any(Number) });
    expect(internals(f.server).devices.counters.redeliveries).toBeGreaterThan(before);
    expect(cam.executed.capture).toBe(1); // the SDK ran it once and acknowledged the copies
    expect(await op.client.command("pico-1", "blink", { times: 2 }, { ttlMs: 3000 })).toEqual({ ok: true, blinked: 2 });
    const deliveries = pico.received.filter((x) => x.t === "command" && x.name === "blink");
    expect(deliveries.length).toBeGreaterThan(1);
    expect(new Set(deliveries.map((x) => x.cid)).size).toBe(1);
    expect(pico.executed.blink).toBe(1);

    // Refusals, from the SDK (CommandRefused) and from raw firmware (a command_nack frame), reach the operator as codes.
    const refused = internals(f.server).devices.counters.commandsRefused;
    await expect(op.client.command("esp32cam-1", "self_destruct", {}, { ttlMs: 3000 })).rejects.toMatchObject({ code: "UNKNOWN_COMMAND", message: "an esp32cam does not know 'self_destruct'" });
    await expect(op.watch.command("pico-1", "dance", {}, 3000)).rejects.toMatchObject({ code: "UNKNOWN_COMMAND" });
    expect(internals(f.server).devices.counters.commandsRefused).toBe(refused + 2);
    expect(op.lines).toContain("pico-1 dance → UNKNOWN_COMMAND: a pico does not know 'dance'");
    expect(cam.executed.self_destruct).toBeUndefined();
  });

  test("a device refuses with a code of its own: the SDK will not let it borrow tickgate's", () => {
    expect(new CommandRefused("UNKNOWN_COMMAND", "no").code).toBe("UNKNOWN_COMMAND");
    // Every code the server keeps for itself (it would refuse such a command_nack), and the client's own.
    for (const code of [...RESERVED, ...Object.values(ClientErrorCode)]) {
      expect(() => new CommandRefused(code), code).toThrow(/one of tickgate's own codes|UPPER_SNAKE/);
    }
    for (const code of ["locked_out", "X", "1ABC", `A${"B".repeat(64)}`]) expect(() => new CommandRefused(code), code).toThrow(/UPPER_SNAKE/);
  });

  test("a command for an offline device waits in its queue and is delivered when it connects", async () => {
    const f = await fleet();
    const op = await operator(f);
    const pending = op.client.command("pico-2", "blink", { times: 2 }, { ttlMs: 5000 });
    await Bun.sleep(50);
    const pico = device(f, { id: "pico-2", token: await f.deviceToken("pico-2") });
    await pico.start();
    expect(await pending).toEqual({ ok: true, blinked: 2 });
  });

  test("a remote operator commands over the wire with its token; a device may act only for itself", async () => {
    const f = await fleet();
    const pico = device(f, { id: "pico-1", token: await f.deviceToken("pico-1") });
    const cam = await camera(f);
    await Promise.all([pico.start(), cam.start()]);

    await using ops = await connect(f.wsUrl, { encoding: "json", headers: { Authorization: `Bearer ${await f.operatorToken("ops-2")}` } });
    ops.send({ t: "command", id: "c1", device: "pico-1", name: "blink", data: { times: 2 } });
    expect(await ops.next((x) => x.id === "c1")).toMatchObject({ t: "res", data: { acked: true, data: { ok: true, blinked: 2 } } });
    ops.send({ t: "command", id: "c2", device: "esp32cam-1", name: "fly" });
    expect(await ops.next((x) => x.id === "c2")).toMatchObject({ t: "error", code: "UNKNOWN_COMMAND" });

    // pico-1's own token: devices.pico-1.> only.
    const errors = () => pico.received.filter((x) => x.t === "error");
    pico.send({ t: "command", id: "x1", device: "esp32cam-1", name: "capture" });
    pico.send({ t: "pub", id: "x2", topic: "devices.esp32cam-1.telemetry", data: { fps: 0 } });
    pico.send({ t: "sub", id: "x3", topic: "devices.>" });
    // Its own presence and log are written by the server only: no forging "offline" or log lines.
    pico.send({ t: "pub", id: "x4", topic: "devices.pico-1.presence", data: { state: "offline" } });
    pico.send({ t: "pub", id: "x5", topic: "devices.pico-1.log", data: { level: "error", message: "fake" } });
    await until(() => errors().length === 5);
    expect(errors().map((x) => [x.id, x.code])).toEqual([
      ["x1", "FORBIDDEN"],
      ["x2", "FORBIDDEN"],
      ["x3", "FORBIDDEN"],
      ["x4", "FORBIDDEN"],
      ["x5", "FORBIDDEN"],
    ]);
    expect(cam.executed).toEqual({});
    expect(f.lines.some((l) => l.startsWith("⛔ forbidden: pico-1 from 127.0.0.1 may not command 'devices.esp32cam-1.commands'"))).toBe(true);
    // The same holds for the SDK device: its token's grants, not the SDK, decide.
    await expect(cam.client.command("pico-1", "blink")).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(cam.client.publish("devices.pico-1.telemetry", {})).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  test("a token minted with the CLI command in the README connects a device", async () => {
    const f = await fleet();
    const args = ["src/cli/main.ts", "token", "--sub", "pico-9", "--client", "device", "--publish", "devices.{sub}.>", "--subscribe", "devices.{sub}.commands", "--ttl", "1h"];
    const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, TICKGATE_AUTH_SECRET: SECRET }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    expect(await new Promise((r) => proc.once("exit", r))).toBe(0);
    const pico = device(f, { id: "pico-9", token: out.trim() });
    await pico.start();
    expect(await f.server.command("pico-9", "reboot", {}, { ttlMs: 3000 })).toEqual({ ok: true, rebooting_in_s: 3 });
  }, 15_000);
});

describe("device-fleet example: the refusals", () => {
  test("no token, from localhost: every frame is UNAUTHORIZED, then closed 4408 at the auth deadline", async () => {
    const f = await fleet({ authTimeoutMs: 300 });
    const op = await operator(f);
    const commandForIt = f.server.command("pico-x", "blink", {}, { ttlMs: 800 }).catch((e) => e);
    const t0 = Date.now();
    const x = device(f, { id: "pico-x" }); // the same firmware, without a token
    await expect(x.start()).rejects.toThrow("refused: close 4408");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(x.received.find((r) => r.t === "error")).toMatchObject({ id: "hello", code: "UNAUTHORIZED" });
    expect(x.lastClose).toEqual({ code: 4408, reason: "no auth frame in time" });
    // It connected from 127.0.0.1 and was still refused: there is no localhost exception.
    expect(f.lines).toContain("🔗 connect 127.0.0.1 client=device who=(no token yet)");
    expect(f.lines).toContain("⛔ no auth in time from 127.0.0.1: closing 4408");
    // It never became a device: no presence, no commands.
    expect(op.lines.filter((l) => l.includes("pico-x"))).toEqual([]);
    expect(x.received.some((r) => r.t === "command")).toBe(false);
    expect(((await commandForIt) as { code?: string }).code).toBe("COMMAND_TIMEOUT");
    expect(f.server.stats().security?.authTimeouts).toBe(1);
  }, 10_000);

  test("a tokenless connection cannot claim a device id with hello", async () => {
    const f = await fleet({ authTimeoutMs: 500 });
    await using raw = await connect(f.wsUrl, { encoding: "json", query: "client=device" });
    raw.send({ t: "hello", id: 1, client: "device", device: "pico-1" });
    expect(await raw.next((x) => x.id === 1)).toMatchObject({ t: "error", code: "UNAUTHORIZED" });
    raw.send({ t: "log", id: 2, message: "let me in" });
    expect(await raw.next((x) => x.id === 2)).toMatchObject({ t: "error", code: "UNAUTHORIZED" });
    expect((await raw.closed).code).toBe(4408);
    expect(f.server.stats().devicesOnline).toBe(0);
  });

  test("a bad token in the auth frame: UNAUTHORIZED, closed 4401", async () => {
    const f = await fleet();
    const good = await f.deviceToken("pico-y");
    for (const token of [`${good}x`, await mint("another-secret-of-the-right-length-0123456789", "pico-y", DEVICE_GRANTS)]) {
      const y = device(f, { id: "pico-y", token, authVia: "frame" });
      await expect(y.start()).rejects.toThrow("refused: close 4401");
      expect(y.received.find((r) => r.t === "error")).toMatchObject({ id: "auth", code: "UNAUTHORIZED" });
    }
    expect(f.server.stats().security?.authFailures).toBe(2);
  });

  test("a bad token in the header: the upgrade is refused with HTTP 401", async () => {
    const f = await fleet();
    const good = await f.deviceToken("pico-z");
    const expired = await mint(SECRET, "pico-z", DEVICE_GRANTS, -60);
    const forged = await mint("another-secret-of-the-right-length-0123456789", "pico-z", DEVICE_GRANTS);
    for (const [auth, code] of [
      [`Bearer ${good}x`, "UNAUTHORIZED"],
      [`Bearer ${forged}`, "UNAUTHORIZED"],
      [`Bearer ${expired}`, "TOKEN_EXPIRED"],
      [good, "UNAUTHORIZED"], // not "Bearer <token>"
    ] as const) {
      const r = await tryUpgrade(f.port, { headers: { Authorization: auth }, query: "client=device", host: "localhost" });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe(code);
    }
    // The same firmware with a bad header token never opens.
    const z = device(f, { id: "pico-z", token: `${good}x`, authVia: "header" });
    await expect(z.start()).rejects.toThrow("refused");
    expect(f.server.stats().devicesOnline).toBe(0);
  });
});

describe("device-fleet example: logging (issue 15)", () => {
  test("at debug level every device message is logged with its contents; no line carries a token or the secret", async () => {
    const f = await fleet({ logLevel: "debug" });
    const token = await f.deviceToken("pico-1");
    const pico = device(f, { id: "pico-1", token, authVia: "header" });
    await pico.start();
    pico.send({ t: "log", level: "warn", message: "battery at 9%" });
    await until(() => f.lines.some((l) => /^🐛 devices\.pico-1\.log \{"level":"warn","message":"battery at 9%"/.test(l)));
    await until(() => f.lines.some((l) => /^🐛 devices\.pico-1\.presence \{"state":"online"/.test(l)));
    const cam = await camera(f);
    await cam.start();
    await until(() => f.lines.some((l) => l.startsWith("🔗 device connected: kind=esp32cam id=esp32cam-1 ")));
    const all = f.lines.join("\n");
    for (const secret of [token, SECRET, token.split(".")[2]!]) expect(all).not.toContain(secret);
  });

  test("at info level (the default) no message contents are logged", async () => {
    const f = await fleet();
    const op = await operator(f);
    const pico = device(f, { id: "pico-1", token: await f.deviceToken("pico-1"), authVia: "header" });
    await pico.start();
    pico.send({ t: "log", level: "warn", message: "battery at 9%" });
    await op.waitFor(/^log pico-1 \[warn\] battery at 9%$/);
    expect(f.lines.filter((l) => l.includes("battery"))).toEqual([]);
  });

  // Issue 15 (004): a token device's presence was published twice, once bare when the token
  // named it at the upgrade, then again with meta when its hello arrived.
  test("issue 15: a token device's presence is published once per connect, with its hello's meta", async () => {
    const f = await fleet();
    const op = await operator(f);
    const online: Record<string, unknown>[] = [];
    await op.client.subscribe<Record<string, unknown>>("devices.pico-1.presence", (p) => p.state === "online" && online.push(p)).ready();
    const pico = device(f, { id: "pico-1", token: await f.deviceToken("pico-1"), authVia: "header" });
    await pico.start();
    // The log line that follows the hello on the same socket is delivered after any presence for it.
    pico.send({ t: "log", level: "info", message: "sentinel" });
    await op.waitFor(/^log pico-1 \[info\] sentinel$/);
    expect(online).toHaveLength(1);
    expect(online[0]).toMatchObject({ state: "online", meta: { kind: "pico", version: "1.0.0" } });
  });
});

describe("device-fleet example: old firmware on its old paths (issue 15)", () => {
  test("a Pico on /ws/pico in the seed's frames and a reflashed one on /ws: one fleet, same topics, same log lines", async () => {
    const f = await fleet();
    const op = await operator(f);
    const base = f.server.url.replace(/^http/, "ws");
    const old = new WebSocket(`${base}/ws/pico`, { headers: { authorization: `Bearer ${await f.deviceToken("pico-old")}` } } as any);
    cleanup.push(() => old.close());
    const got: string[] = [];
    old.onmessage = (e) => got.push(String(e.data));
    await new Promise((r) => (old.onopen = r));
    old.send(`{"type": "connect", "device": "pico_device", "version": "1.0.0"}`);
    old.send(`{"type": "log", "message": "Device status update", "level": "info"}`);
    const fresh = device(f, { id: "pico-new", token: await f.deviceToken("pico-new"), authVia: "header" });
    await fresh.start();
    await op.waitFor(/^log pico-old \[info\] Device status update$/);
    await until(() => got.includes(JSON.stringify({ type: "connection_ack", status: "success", message: "Pico connection acknowledged" })));
    await until(() => f.lines.some((l) => l.startsWith("🔗 device connected: kind=pico id=pico-old version=1.0.0 ")));
    await until(() => f.lines.some((l) => l.startsWith("🔗 device connected: kind=pico id=pico-new ")));
    expect(f.server.stats().devicesOnline).toBe(2);
    // The operator commands both the same way.
    const acked = f.server.command("pico-old", "blink");
    await until(() => got.some((m) => m.includes('"command":"blink"')));
    old.send(`{"type": "ack", "message": "Command received"}`);
    expect(await acked).toEqual({ message: "Command received" });
    old.close(1000);
    await until(() => f.lines.some((l) => /^🔌 device disconnected: kind=pico id=pico-old ip=127\.0\.0\.1 code=1000/.test(l)));
  });

  test("the old paths have no way around auth: no token endpoint, no localhost bypass", async () => {
    const f = await fleet();
    expect((await fetch(`${f.server.url}/public/tokens`)).status).toBe(404);
    const base = f.server.url.replace(/^http/, "ws");
    const ws = new WebSocket(`${base}/ws/esp32cam`);
    cleanup.push(() => ws.close());
    const got: string[] = [];
    ws.onmessage = (e) => got.push(String(e.data));
    const closed = new Promise<number>((r) => (ws.onclose = (e) => r(e.code)));
    await new Promise((r) => (ws.onopen = r));
    ws.send(`{"type": "connect", "device": "esp32cam_device", "version": "1.0.0"}`);
    expect(await closed).toBe(4408);
    expect(got.map((m) => JSON.parse(m).type)).toEqual(["error"]);
    expect(f.server.stats().devicesOnline).toBe(0);
  });
});

describe("device-fleet example: the one command", () => {
  test("npm run example:device-fleet: secret, devices, acked commands, intruders refused; exits 0 on SIGINT", async () => {
    const proc = spawn(process.execPath, ["examples/device-fleet/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", PERIOD_SCALE: "0.05", TICKGATE_AUTH_SECRET: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanup.push(() => proc.exitCode === null && proc.kill("SIGKILL"));
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    const want = [
      /esp32cam-1 capture → ack \{"ok":true/,
      /esp32cam-1 self_destruct → UNKNOWN_COMMAND/,
      /\[intruder\] pico:pico-x refused with close code 4408/,
      /\[intruder\] pico:pico-y refused with close code 4401/,
    ];
    const t0 = Date.now();
    while (!want.every((re) => re.test(out)) && Date.now() - t0 < 8000) await Bun.sleep(25);
    expect(out).toMatch(/device-fleet listening on ws:\/\/127\.0\.0\.1:\d+\/ws \(auth required\)/);
    // The generated secret is in a file only the user can read; stdout names the file, never the secret.
    const secretFile = /HS256 secret \(generated; [^)]*\) in (\S+)/.exec(out)?.[1];
    expect(secretFile).toBeDefined();
    expect(statSync(secretFile!).mode & 0o777).toBe(0o600);
    const secret = readFileSync(secretFile!, "utf8").trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    cleanup.push(() => rmSync(dirname(secretFile!), { recursive: true, force: true }));
    expect(out).toContain(`mint a device token: TICKGATE_AUTH_SECRET="$(cat ${secretFile})" npm run -s tickgate -- token --sub pico-2`);
    for (const re of want) expect(out).toMatch(re);
    expect(out).toContain("[operator] presence pico-1: online");
    expect(out).toContain("[operator] presence esp32cam-1: online");
    expect(out).toMatch(/\[operator\] fleet: 2 device\(s\) online/);
    proc.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(out).toContain("[operator] presence pico-1: offline (normal, code 1000)");
    expect(out).toContain("stopping");
    expect(out).toContain("stopped");
    expect(out).not.toContain(secret);
    // Device kinds and ids on the connect and disconnect lines.
    expect(out).toMatch(/🔗 device connected: kind=pico id=pico-1 /);
    expect(out).toMatch(/🔗 device connected: kind=esp32cam id=esp32cam-1 /);
    expect(out).toMatch(/🔌 device disconnected: kind=pico id=pico-1 ip=127\.0\.0\.1 code=1000/);
    expect(out).not.toContain("🐛"); // message contents only at debug level
  }, 15_000);
});
