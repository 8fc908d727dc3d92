/**
 * Device fleets: presence on `devices.<id>.presence`, the last will on an
 * abnormal close, commands delivered at least once (queued while offline,
 * redelivered until acked, expiring), device logs, and who may act as a
 * device.
 */
import { describe, expect, test } from "bun:test";
import { CloseCode, ErrorCode } from "../../src/protocol/codes.ts";
import { unpackr } from "../../src/protocol/codec.ts";
import { connect, subscribe, type Frame, type TestClient } from "../helpers/client.ts";
import { rawConnect } from "../helpers/raw-ws.ts";
import { startLoggedServer } from "../helpers/log-capture.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { ALL_TG, hs256, hsAuth } from "../helpers/tokens.ts";

let ids = 0;
async function call(c: TestClient, frame: Record<string, unknown>, timeoutMs = 5000) {
  const id = `d${++ids}`;
  c.send({ ...frame, id });
  return c.next((f) => f.id === id, timeoutMs);
}

async function settle(c: TestClient): Promise<void> {
  expect((await call(c, { t: "ping" })).t).toBe("pong");
}

/** A device with auth off: connects and names itself in `hello`. */
async function device(server: TestServer, id: string, extra: Record<string, unknown> = {}): Promise<TestClient> {
  const c = await connect(server.wsUrl, { encoding: "json" });
  expect((await call(c, { t: "hello", client: "device", device: id, ...extra })).t).toBe("ack");
  return c;
}

async function watcher(server: TestServer, pattern = "devices.>", query?: string): Promise<TestClient> {
  const c = await connect(server.wsUrl, query ? { query } : {});
  await subscribe(c, pattern);
  return c;
}

const msgOn = (topic: string) => (f: Frame) => f.t === "msg" && f.topic === topic;

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("presence and will", () => {
  test("online on hello, offline (normal) on close; devicesOnline counts", async () => {
    await using server = await startServer();
    await using w = await watcher(server);
    const d1 = await device(server, "pico-1");
    expect((await w.next(msgOn("devices.pico-1.presence"))).data).toMatchObject({ state: "online", session: d1.welcome.session });
    expect(server.stats().devicesOnline).toBe(1);
    await using d2 = await device(server, "pico-2");
    await w.next(msgOn("devices.pico-2.presence"));
    expect(server.stats().devicesOnline).toBe(2);
    expect(server.stats().sessions.device).toBe(2);
    d1.ws.close(1000, "done");
    const off = await w.next(msgOn("devices.pico-1.presence"));
    expect(off.data).toMatchObject({ state: "offline", reason: "normal", code: 1000 });
    expect(off.key).toBe("pico-1");
    expect(server.stats().devicesOnline).toBe(1);
  });

  test("an abnormal disconnect (socket destroyed) publishes the will and offline/abnormal", async () => {
    await using server = await startServer();
    await using w = await watcher(server, ">");
    const raw = await rawConnect(server.port);
    const got: Record<string, unknown>[] = [];
    raw.resume((p) => got.push(unpackr.unpack(p) as Record<string, unknown>));
    raw.sendFrame({ t: "hello", id: 1, client: "device", device: "pico-3", will: { topic: "status.pico-3", data: { alive: false }, key: "pico-3" } });
    await w.next(msgOn("devices.pico-3.presence"));
    await waitFor(() => got.some((f) => f.t === "ack" && f.id === 1));
    raw.destroy();
    const will = await w.next(msgOn("status.pico-3"));
    expect(will.data).toEqual({ alive: false });
    expect(will.key).toBe("pico-3");
    expect((await w.next(msgOn("devices.pico-3.presence"))).data).toMatchObject({ state: "offline", reason: "abnormal" });
  });

  test("a close code of 4000+ counts as abnormal (will published); a normal close publishes no will", async () => {
    await using server = await startServer();
    await using w = await watcher(server, ">");
    const a = await device(server, "pico-4", { will: { topic: "status.pico-4", data: "lost" } });
    const b = await device(server, "pico-5", { will: { topic: "status.pico-5", data: "lost" } });
    a.ws.close(4001, "crashing");
    expect((await w.next(msgOn("status.pico-4"))).data).toBe("lost");
    expect((await w.next((f) => msgOn("devices.pico-4.presence")(f) && f.data.state === "offline")).data).toMatchObject({ reason: "abnormal", code: 4001 });
    b.ws.close(1000, "done");
    expect((await w.next((f) => msgOn("devices.pico-5.presence")(f) && f.data.state === "offline")).data.reason).toBe("normal");
    await settle(w);
    expect(w.frames.filter(msgOn("status.pico-5"))).toEqual([]);
  });

  test("a clean close without a status code (ws.close(), seen as 1005) is normal: no will is published (was a bug)", async () => {
    await using server = await startServer();
    await using w = await watcher(server, ">");
    const d = await device(server, "pico-13", { will: { topic: "status.pico-13", data: "lost" } });
    d.close(); // what browsers and most clients send: a close frame with no code
    const off = await w.next((f) => msgOn("devices.pico-13.presence")(f) && f.data.state === "offline");
    await settle(w);
    expect({ reason: off.data.reason, will: w.frames.filter(msgOn("status.pico-13")).map((f) => f.data) }).toEqual({ reason: "normal", will: [] });
  });

  test("a will cannot target a topic with a publish: \"server\" policy (clients cannot publish there)", async () => {
    await using server = await startServer({ policies: [{ match: "alerts.>", publish: "server" }] });
    await using w = await watcher(server, ">");
    const c = await connect(server.wsUrl);
    expect(await call(c, { t: "pub", topic: "alerts.fire", data: "fake alarm" })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    const hello = await call(c, { t: "hello", client: "device", device: "pico-6", will: { topic: "alerts.fire", data: "fake alarm" } });
    expect(hello).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    // The refused hello changed nothing: not a device, no will.
    expect(server.stats().devicesOnline).toBe(0);
    c.ws.close(4002, "bye");
    await c.closed;
    await waitFor(() => server.stats().connections === 1);
    await settle(w);
    expect(w.frames.filter((f) => f.t === "msg")).toEqual([]);
  });
});

describe("commands", () => {
  test("a command to an offline device is queued, delivered on connect, redelivered until acked; the sender gets res {acked, data}", async () => {
    await using server = await startServer({ devices: { redeliverMs: 100 } });
    await using sender = await connect(server.wsUrl, { encoding: "json" });
    sender.send({ t: "command", id: "cmd1", device: "pico-7", name: "reboot", data: { delay: 1 } });
    await settle(sender);
    expect(sender.frames.filter((f) => f.id === "cmd1")).toEqual([]);
    await using d = await device(server, "pico-7");
    const first = await d.next((f) => f.t === "command");
    expect(first).toMatchObject({ name: "reboot", data: { delay: 1 } });
    const again = await d.next((f) => f.t === "command", 2000);
    expect(again.cid).toBe(first.cid);
    expect(server.devices.counters.redeliveries).toBeGreaterThan(0);
    expect((await call(d, { t: "command_ack", cid: first.cid, data: { ok: true } })).t).toBe("ack");
    expect(await sender.next((f) => f.id === "cmd1")).toEqual({ t: "res", id: "cmd1", data: { acked: true, data: { ok: true } } });
    // A duplicate ack is harmless; no more redeliveries.
    expect((await call(d, { t: "command_ack", cid: first.cid })).t).toBe("ack");
    d.frames.splice(0);
    await new Promise((r) => setTimeout(r, 250));
    expect(d.frames.filter((f) => f.t === "command")).toEqual([]);
    await settle(sender);
    expect(sender.frames.filter((f) => f.id === "cmd1")).toEqual([]);
  });

  test("in msgpack, command and command_ack frames keep their data", async () => {
    await using server = await startServer();
    await using sender = await connect(server.wsUrl); // msgpack
    await using d = await connect(server.wsUrl); // msgpack
    expect((await call(d, { t: "hello", client: "device", device: "pico-14" })).t).toBe("ack");
    sender.send({ t: "command", id: "mp1", device: "pico-14", name: "set", data: { led: "on" } });
    const cmd = await d.next((f) => f.t === "command");
    d.send({ t: "command_ack", cid: cmd.cid, data: { done: true } });
    const res = await sender.next((f) => f.id === "mp1");
    expect({ sent: cmd.data, acked: res.data }).toEqual({ sent: { led: "on" }, acked: { acked: true, data: { done: true } } });
  });

  test("an unacked command is sent again after the device reconnects", async () => {
    await using server = await startServer({ devices: { redeliverMs: 60_000 } });
    await using d1 = await device(server, "pico-8");
    const p = server.command("pico-8", "blink", { n: 3 });
    const first = await d1.next((f) => f.t === "command");
    d1.close();
    await d1.closed;
    await using d2 = await device(server, "pico-8");
    const second = await d2.next((f) => f.t === "command");
    expect(second.cid).toBe(first.cid);
    d2.send({ t: "command_ack", cid: second.cid, data: "blinked" });
    expect(await p).toBe("blinked");
  });

  test("server.command() to an offline device resolves with the ack data once it connects and acks", async () => {
    await using server = await startServer();
    const p = server.command("pico-9", "set", { led: "on" });
    await using d = await device(server, "pico-9");
    const cmd = await d.next((f) => f.t === "command");
    expect(cmd).toMatchObject({ t: "command", name: "set", data: { led: "on" } });
    d.send({ t: "command_ack", cid: cmd.cid, data: { led: "on" } });
    expect(await p).toEqual({ led: "on" });
    expect(server.devices.counters.commandsAcked).toBe(1);
  });

  test("expiry: the sender gets COMMAND_TIMEOUT, server.command() rejects with it", async () => {
    await using server = await startServer();
    await using sender = await connect(server.wsUrl);
    expect(await call(sender, { t: "command", device: "ghost", name: "x", ttlMs: 150 })).toMatchObject({ t: "error", code: ErrorCode.COMMAND_TIMEOUT });
    const err = await server.command("ghost", "y", null, { ttlMs: 100 }).then(
      () => null,
      (e: { code?: string }) => e,
    );
    expect(err?.code).toBe(ErrorCode.COMMAND_TIMEOUT);
    // Expired commands are gone: the device connecting later gets nothing.
    await using d = await device(server, "ghost");
    await settle(d);
    expect(d.frames.filter((f) => f.t === "command")).toEqual([]);
  });

  test("a full queue refuses with DEVICE_QUEUE_FULL", async () => {
    await using server = await startServer({ devices: { maxQueued: 2 } });
    await using sender = await connect(server.wsUrl);
    sender.send({ t: "command", id: "q1", device: "pico-10", name: "a" });
    sender.send({ t: "command", id: "q2", device: "pico-10", name: "b" });
    expect(await call(sender, { t: "command", device: "pico-10", name: "c" })).toMatchObject({ t: "error", code: ErrorCode.DEVICE_QUEUE_FULL });
    await expect(server.command("pico-10", "d")).rejects.toMatchObject({ code: ErrorCode.DEVICE_QUEUE_FULL });
    // Other devices have their own queue.
    sender.send({ t: "command", id: "q3", device: "pico-11", name: "a" });
    await using d = await device(server, "pico-10");
    const cmds = await d.collect(2, (f) => f.t === "command");
    expect(cmds.map((f) => f.name)).toEqual(["a", "b"]);
  });

  test("command_ack and log from a non-device are NOT_A_DEVICE", async () => {
    await using server = await startServer();
    await using c = await connect(server.wsUrl);
    expect(await call(c, { t: "command_ack", cid: "x" })).toMatchObject({ t: "error", code: ErrorCode.NOT_A_DEVICE });
    expect(await call(c, { t: "log", message: "hi" })).toMatchObject({ t: "error", code: ErrorCode.NOT_A_DEVICE });
    // Saying "device" without an id is not enough either.
    expect((await call(c, { t: "hello", client: "device" })).t).toBe("ack");
    expect(await call(c, { t: "log", message: "hi" })).toMatchObject({ t: "error", code: ErrorCode.NOT_A_DEVICE });
    expect(server.stats().messages.publications).toBe(0);
  });

  test("a device's log frame appears on devices.<id>.log", async () => {
    await using server = await startServer();
    await using w = await watcher(server, "devices.*.log");
    await using d = await device(server, "pico-12");
    expect((await call(d, { t: "log", level: "warn", message: "battery low" })).t).toBe("ack");
    d.send({ t: "log", message: "default level" });
    const logs = await w.collect(2, (f) => f.t === "msg");
    expect(logs.map((f) => [f.topic, f.data.level, f.data.message])).toEqual([
      ["devices.pico-12.log", "warn", "battery low"],
      ["devices.pico-12.log", "info", "default level"],
    ]);
  });
});

describe("devices with auth", () => {
  test("the token's sub is the device id and tg.client makes it a device; hello cannot rename it", async () => {
    await using server = await startServer({ auth: hsAuth(), devices: { redeliverMs: 60_000 } });
    await using w = await watcher(server, "devices.>", `token=${await hs256({ sub: "ops", tg: ALL_TG })}`);
    const token = await hs256({ sub: "meter-1", tg: { client: "device", publish: ["devices.{sub}.>"] } });
    await using d = await connect(server.wsUrl, { encoding: "json", headers: { authorization: `Bearer ${token}` } });
    expect(d.welcome.client).toBe("device");
    expect((await w.next(msgOn("devices.meter-1.presence"))).data.state).toBe("online");
    expect(server.stats().devicesOnline).toBe(1);
    // hello cannot move it to another id, nor change its type.
    expect((await call(d, { t: "hello", client: "api", device: "meter-2" })).t).toBe("ack");
    expect((await call(d, { t: "stats" })).data.session).toMatchObject({ client: "device", device: "meter-1" });
    // An operator with the grant sends a command; a user without it cannot.
    await using op = await connect(server.wsUrl, { encoding: "json", query: `token=${await hs256({ sub: "op", tg: { publish: ["devices.*.commands"] } })}` });
    await using user = await connect(server.wsUrl, { query: `token=${await hs256({ sub: "user", tg: { publish: ["devices.meter-2.commands"] } })}` });
    expect(await call(user, { t: "command", device: "meter-1", name: "open" })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    op.send({ t: "command", id: "c1", device: "meter-1", name: "read" });
    const cmd = await d.next((f) => f.t === "command");
    expect(cmd.name).toBe("read");
    d.send({ t: "command_ack", cid: cmd.cid, data: 42 });
    expect(await op.next((f) => f.id === "c1")).toMatchObject({ t: "res", data: { acked: true, data: 42 } });
    expect((await call(d, { t: "log", message: "ok" })).t).toBe("ack");
    expect((await w.next(msgOn("devices.meter-1.log"))).data.message).toBe("ok");
    // A device authenticating with an auth frame gets the same.
    await using d2 = await connect(server.wsUrl);
    expect((await call(d2, { t: "auth", token: await hs256({ sub: "meter-3", tg: { client: "device" } }) })).t).toBe("ack");
    expect((await w.next(msgOn("devices.meter-3.presence"))).data.state).toBe("online");
    expect(server.stats().devicesOnline).toBe(2);
  });

  test("with auth required, an anonymous connection cannot claim a device id in hello nor take its commands", async () => {
    await using server = await startServer({ auth: hsAuth({ anonymous: { subscribe: ["public.>"] } }) });
    const p = server.command("meter-9", "unlock", { door: 1 }, { ttlMs: 2000 }).catch((e: Error) => e);
    await using impostor = await connect(server.wsUrl);
    await call(impostor, { t: "hello", client: "device", device: "meter-9" });
    await settle(impostor);
    const stolen = impostor.frames.filter((f) => f.t === "command");
    const info = (await call(impostor, { t: "stats" })).data.session;
    // Expected: no device id without a token's sub, so no commands, no presence, no acks.
    expect({ device: info.device, devicesOnline: server.stats().devicesOnline, stolen }).toEqual({ device: undefined, devicesOnline: 0, stolen: [] });
    await p;
  });

  test("a device that refreshes its token stays one device: no second online presence, no re-sent commands", async () => {
    await using server = await startServer({ auth: hsAuth(), devices: { redeliverMs: 60_000 } });
    await using w = await watcher(server, "devices.>", `token=${await hs256({ sub: "ops", tg: ALL_TG })}`);
    const tg = { client: "device" as const };
    await using d = await connect(server.wsUrl, { query: `token=${await hs256({ sub: "meter-5", tg })}` });
    await w.next(msgOn("devices.meter-5.presence"));
    const p = server.command("meter-5", "read");
    const cmd = await d.next((f) => f.t === "command");
    expect((await call(d, { t: "auth", token: await hs256({ sub: "meter-5", tg, expIn: 3600 }) })).t).toBe("ack");
    await settle(d);
    await settle(w);
    expect({
      presence: w.frames.filter(msgOn("devices.meter-5.presence")).map((f) => f.data.state),
      resent: d.frames.filter((f) => f.t === "command").length,
    }).toEqual({ presence: [], resent: 0 });
    d.send({ t: "command_ack", cid: cmd.cid });
    await p;
    expect(server.stats().devicesOnline).toBe(1);
  });
});

describe("shutdown", () => {
  test("server.close() rejects pending server.command() promises (was a bug)", async () => {
    const server = await startServer();
    const p = server.command("pico-15", "x", null, { ttlMs: 600_000 });
    await server.close();
    const outcome = await Promise.race([
      p.then(
        () => "resolved",
        (e: { code?: string }) => `rejected ${e.code}`,
      ),
      new Promise((r) => setTimeout(() => r("still pending"), 500)),
    ]);
    expect(outcome).toBe(`rejected ${ErrorCode.SHUTTING_DOWN}`);
  });
});

describe("presence once per connect (issue 15)", () => {
  const deviceToken = (sub: string) => hs256({ sub, tg: { client: "device", publish: ["devices.{sub}.>"] } });

  test("issue 15: a token device is held for its hello: one online, with the hello's meta; the log lines name its kind and id", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth(), devices: { helloWindowMs: 60_000 } });
    await using _ = server;
    await using w = await watcher(server, "devices.>", `token=${await hs256({ sub: "ops", tg: ALL_TG })}`);
    await using d = await connect(server.wsUrl, { encoding: "json", headers: { authorization: `Bearer ${await deviceToken("cam-1")}` } });
    // Commands do not wait for the hello; only the announcement does.
    const p = server.command("cam-1", "snap");
    const cmd = await d.next((f) => f.t === "command");
    expect((await call(d, { t: "hello", client: "device", meta: { kind: "esp32cam", version: "1.0.0" } })).t).toBe("ack");
    expect((await call(d, { t: "log", message: "sentinel" })).t).toBe("ack");
    await w.next(msgOn("devices.cam-1.log"));
    const online = w.frames.filter(msgOn("devices.cam-1.presence"));
    expect(online.map((f) => f.data)).toEqual([expect.objectContaining({ state: "online", meta: { kind: "esp32cam", version: "1.0.0" } })]);
    expect((await logs.waitFor({ event: "device_online", device: "cam-1" })).fields).toMatchObject({ kind: "esp32cam", ip: "127.0.0.1" });
    d.send({ t: "command_ack", cid: cmd.cid });
    await p;
    d.ws.close(1000, "bye");
    expect((await logs.waitFor({ event: "disconnect", device: "cam-1" })).fields).toMatchObject({ kind: "esp32cam", code: 1000 });
    expect((await logs.waitFor({ event: "device_offline", device: "cam-1" })).fields).toMatchObject({ kind: "esp32cam" });
    // The message contents are at debug level only, and no line carries a token.
    expect(logs.entries.find((e) => e.fields.event === "device_log")?.level).toBe("debug");
  });

  test("a device that sends no hello is announced (bare) when the window ends", async () => {
    await using server = await startServer({ auth: hsAuth(), devices: { helloWindowMs: 50 } });
    await using w = await watcher(server, "devices.>", `token=${await hs256({ sub: "ops", tg: ALL_TG })}`);
    await using d = await connect(server.wsUrl, { query: `token=${await deviceToken("pico-7")}` });
    const online = await w.next(msgOn("devices.pico-7.presence"));
    expect(online.data).toMatchObject({ state: "online", session: d.welcome.session });
    expect(online.data.meta).toBeUndefined();
  });

  test("a device that leaves within its window is never announced: no online, no offline", async () => {
    await using server = await startServer({ auth: hsAuth(), devices: { helloWindowMs: 60_000 } });
    await using w = await watcher(server, "devices.>", `token=${await hs256({ sub: "ops", tg: ALL_TG })}`);
    const d = await connect(server.wsUrl, { query: `token=${await deviceToken("pico-8")}` });
    d.ws.close(1000, "bye");
    await d.closed;
    await waitFor(() => server.stats().devicesOnline === 0 && server.connections === 1);
    server.publish("devices.pico-8.log", "sentinel");
    await w.next(msgOn("devices.pico-8.log"));
    expect(w.frames.filter(msgOn("devices.pico-8.presence"))).toEqual([]);
  });
});
