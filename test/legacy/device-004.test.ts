/**
 * The seed-004 device protocol as a legacy protocol (issue 15, item 2):
 * Pico firmware with its token in the Authorization header, ESP32-CAM
 * firmware with a first `auth` frame, each on its old path, speaking the
 * seed's frames byte for byte; the same auth, grants and device registry
 * as `/ws`; no token endpoint and no localhost bypass. Real server, real
 * sockets.
 */
import { describe, expect, test } from "bun:test";
import { createServer } from "../../src/adapter/bun/index.ts";
import { internals } from "../../src/internal.ts";
import { device004 } from "../../src/legacy/index.ts";
import { CloseCode } from "../../src/protocol/codes.ts";
import { connect, subscribe, type Frame } from "../helpers/client.ts";
import type { TestServer } from "../helpers/server.ts";
import { ALL_TG, hs256, hsAuth } from "../helpers/tokens.ts";
import { legacyConnect, upgradeStatus } from "./legacy-client.ts";

/** The seed's frames, as its document writes them. */
const SEED = {
  connect: `{
    "type": "connect",
    "device": "pico_device",
    "version": "1.0.0"
}`,
  ping: `{
    "type": "ping"
}`,
  log: `{
    "type": "log",
    "message": "Device status update",
    "level": "info"
}`,
  ack: `{
    "type": "ack",
    "message": "Command received"
}`,
  /** The Python client's answer to a server ping (`json.dumps`). */
  pong: `{"type": "pong"}`,
};
/** What the seed says the server sends, as bytes (compact JSON, the seed's key order). */
const REPLY = {
  picoAck: JSON.stringify({ type: "connection_ack", status: "success", message: "Pico connection acknowledged" }),
  pong: JSON.stringify({ type: "pong" }),
  ping: JSON.stringify({ type: "ping" }),
};

async function fleet(extra: Record<string, unknown> = {}, pico: Partial<Parameters<typeof device004>[0]> = {}): Promise<TestServer> {
  const server = internals(createServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 500, auth: hsAuth(), devices: { helloWindowMs: 60_000, redeliverMs: 60_000 }, ...extra })) as TestServer;
  server.legacy(device004({ kind: "pico", path: "/ws/pico", label: "Pico", ...pico }));
  server.legacy(device004({ kind: "esp32cam", path: "/ws/esp32cam", label: "ESP32-CAM" }));
  await server.listen();
  server[Symbol.asyncDispose] = () => server.close();
  return server;
}

const base = (s: TestServer) => s.url.replace(/^http/, "ws");
const deviceToken = (sub: string) => hs256({ sub, tg: { client: "device", publish: ["devices.{sub}.>"] } });
const msgOn = (topic: string) => (f: Frame) => f.t === "msg" && f.topic === topic;

async function operator(server: TestServer) {
  const op = await connect(`${server.wsUrl}?token=${await hs256({ sub: "ops", tg: ALL_TG })}`, { encoding: "json" });
  await subscribe(op, "devices.>");
  return op;
}

describe("legacy device-004: Pico with a header token", () => {
  test("issue 15: connect → connection_ack and one presence with its meta; log, ping/pong and an acked command, in the seed's frames", async () => {
    await using server = await fleet();
    await using op = await operator(server);
    await using pico = await legacyConnect(`${base(server)}/ws/pico`, { authorization: `Bearer ${await deviceToken("pico-1")}` });
    pico.send(SEED.connect);
    expect(await pico.next()).toBe(REPLY.picoAck);
    pico.send(SEED.log);
    const log = await op.next(msgOn("devices.pico-1.log"));
    expect(log.data).toMatchObject({ level: "info", message: "Device status update" });
    // Published once, with the connect frame's kind, name and version (the log line followed it on the same socket).
    expect(op.frames.filter(msgOn("devices.pico-1.presence")).map((f) => f.data)).toEqual([
      expect.objectContaining({ state: "online", meta: { kind: "pico", name: "pico_device", version: "1.0.0" } }),
    ]);
    pico.send(SEED.ping);
    expect(await pico.next()).toBe(REPLY.pong);
    // A tickgate command reaches the old firmware; its plain `ack` settles it.
    const done = server.command("pico-1", "relay", { on: true });
    expect(JSON.parse(await pico.next())).toMatchObject({ type: "command", command: "relay", data: { on: true } });
    pico.send(SEED.ack);
    expect(await done).toEqual({ message: "Command received" });
    expect(server.stats().devicesOnline).toBe(1);
    pico.ws.close(1000, "bye");
    expect((await op.next((f) => msgOn("devices.pico-1.presence")(f) && f.data.state === "offline")).data.reason).toBe("normal");
  });

  test("the server pings in the seed's frame; a device that answers nothing is closed (4009) and its presence says abnormal", async () => {
    await using server = await fleet({}, { pingIntervalMs: 40, idleMs: 200 });
    await using op = await operator(server);
    await using pico = await legacyConnect(`${base(server)}/ws/pico`, { authorization: `Bearer ${await deviceToken("pico-2")}` });
    pico.send(SEED.connect);
    expect(await pico.next()).toBe(REPLY.picoAck);
    expect(await pico.next((r) => r === REPLY.ping)).toBe(REPLY.ping);
    pico.send(SEED.pong);
    expect((await pico.closed).code).toBe(CloseCode.PEER_TIMEOUT);
    const off = await op.next((f) => msgOn("devices.pico-2.presence")(f) && f.data.state === "offline");
    expect(off.data).toMatchObject({ reason: "abnormal", code: CloseCode.PEER_TIMEOUT });
  });

  test("an unknown type and bad JSON get the old error frame; the connection stays up", async () => {
    await using server = await fleet();
    await using pico = await legacyConnect(`${base(server)}/ws/pico`, { authorization: `Bearer ${await deviceToken("pico-3")}` });
    pico.send(`{"type": "reboot"}`);
    expect(await pico.next()).toBe(JSON.stringify({ type: "error", message: "Unknown message type: reboot" }));
    pico.send("{not json");
    expect(await pico.next()).toBe(JSON.stringify({ type: "error", message: "Invalid JSON" }));
    pico.send(SEED.ping);
    expect(await pico.next()).toBe(REPLY.pong);
  });
});

describe("legacy device-004: the same limits as /ws", () => {
  test("bad frames spend the error budget; past it the connection is closed with 4000", async () => {
    await using server = await fleet({ errorBudget: { burst: 3, perSecond: 0.001 } });
    await using pico = await legacyConnect(`${base(server)}/ws/pico`, { authorization: `Bearer ${await deviceToken("pico-4")}` });
    for (let i = 0; i < 4; i++) pico.send(`{"type": "reboot"}`);
    expect((await pico.closed).code).toBe(CloseCode.TOO_MANY_ERRORS);
  });

  test("a device's log lines are held to the publish rate limit, as on /ws", async () => {
    await using server = await fleet({ limits: { publishPerSecond: 0.001, publishBurst: 1 } });
    await using pico = await legacyConnect(`${base(server)}/ws/pico`, { authorization: `Bearer ${await deviceToken("pico-5")}` });
    pico.send(SEED.log);
    pico.send(SEED.log);
    const err = JSON.parse(await pico.next());
    expect(err.type).toBe("error");
    expect(err.message).toContain("publishing too fast");
  });
});

describe("legacy device-004: ESP32-CAM with a first-frame token", () => {
  test("auth frame, then connect: connection_ack, presence as kind esp32cam, commands", async () => {
    await using server = await fleet();
    await using op = await operator(server);
    await using cam = await legacyConnect(`${base(server)}/ws/esp32cam`);
    // The seed's JavaScript example: JSON.stringify({type: "auth", token}).
    cam.send(JSON.stringify({ type: "auth", token: await deviceToken("cam-1") }));
    cam.send(`{"type": "connect", "device": "esp32cam_device", "version": "2.1.0"}`);
    expect(await cam.next()).toBe(JSON.stringify({ type: "connection_ack", status: "success", message: "ESP32-CAM connection acknowledged" }));
    const online = await op.next(msgOn("devices.cam-1.presence"));
    expect(online.data).toMatchObject({ state: "online", meta: { kind: "esp32cam", name: "esp32cam_device", version: "2.1.0" } });
    const done = server.command("cam-1", "capture");
    expect(JSON.parse(await cam.next())).toMatchObject({ type: "command", command: "capture" });
    cam.send(SEED.ack);
    expect(await done).toEqual({ message: "Command received" });
  });
});

describe("legacy device-004: no way around auth", () => {
  test("no open token endpoint: GET /public/tokens is not found", async () => {
    await using server = await fleet();
    expect((await fetch(`${server.url}/public/tokens`)).status).toBe(404);
  });

  test("no token, from localhost: every frame gets an error, nothing is announced, and the auth deadline closes it (4408)", async () => {
    await using server = await fleet({ auth: hsAuth({ timeoutMs: 300 }) });
    await using op = await operator(server);
    await using pico = await legacyConnect(`${base(server)}/ws/pico`);
    pico.send(SEED.connect);
    const err = JSON.parse(await pico.next());
    expect(err.type).toBe("error");
    expect(err.message).toContain("authenticate first");
    pico.send(SEED.log);
    expect(JSON.parse(await pico.next()).type).toBe("error");
    expect((await pico.closed).code).toBe(CloseCode.AUTH_TIMEOUT);
    expect(server.stats().devicesOnline).toBe(0);
    expect(op.frames.filter((f) => f.t === "msg")).toEqual([]);
  });

  test("a bad header token is refused at the upgrade (401); a bad auth frame closes with 4401", async () => {
    await using server = await fleet();
    const good = await deviceToken("pico-9");
    expect(await upgradeStatus(`${base(server)}/ws/pico`, { authorization: `Bearer ${good}x` })).toBe(401);
    await using cam = await legacyConnect(`${base(server)}/ws/esp32cam`);
    cam.send(JSON.stringify({ type: "auth", token: `${good}x` }));
    expect(JSON.parse(await cam.next()).type).toBe("error");
    expect((await cam.closed).code).toBe(CloseCode.AUTH_FAILED);
  });

  test("the native path is untouched: /ws still speaks tickgate, and a legacy path cannot be the server's own", async () => {
    await using server = await fleet();
    await using c = await connect(`${server.wsUrl}?token=${await hs256({ sub: "ops", tg: ALL_TG })}`, { encoding: "json" });
    expect(c.welcome.t).toBe("welcome");
    expect(() => server.legacy(device004({ kind: "x", path: "/ws/x" }))).toThrow("before listen()");
    const other = internals(createServer({ port: 0 }));
    expect(() => other.legacy(device004({ kind: "x", path: "/ws" }))).toThrow("is the server's WebSocket path");
  });
});
