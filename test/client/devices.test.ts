/**
 * The SDK as a device, against the real server: `deviceId`/`meta`/`will`
 * in a `hello` on every connect (acknowledged before the subscriptions go
 * out), presence, commands handled once however often the server delivers
 * them, throwing handlers left unacknowledged, `log()`, and `command()`
 * from another SDK client.
 */
import { describe, expect, test } from "bun:test";
import { ClientErrorCode, ErrorCode, TickgateClient, TickgateClientError, type ServerStats } from "../../src/client/index.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { hs256, hsAuth } from "../helpers/tokens.ts";
import { collector, eventually, recordingWebSocket, silentServer, sleep, startClient, startProxy } from "./support.ts";

let n = 0;
/** A device id no other test uses. */
const deviceId = () => `dev-${process.pid}-${++n}-${Math.random().toString(36).slice(2, 6)}`;

describe("client as a device", () => {
  test("comes online (presence retained), runs commands from another client's command() and from server.command(), senders get the result", async () => {
    await using server = await startServer();
    const id = deviceId();
    await using dev = startClient(server.wsUrl, { deviceId: id, meta: { model: "TG-1", fw: 3, beta: false }, encoding: "json" });
    const runs: { data: unknown; name: string; cid: string }[] = [];
    dev.client.onCommand<{ delayS: number }>("reboot", async (data, info) => {
      runs.push({ data, name: info.name, cid: info.cid });
      await sleep(5);
      return { ok: true, delayS: data.delayS };
    });
    await dev.until("connected");
    // Subscribed after the device came online: the presence topic retains, so the state is there at once.
    await using watcher = startClient(server.wsUrl);
    const presence = collector<{ state: string; session: string }>();
    await watcher.client.subscribe(`devices.${id}.presence`, presence.handler).ready();
    const [online] = await presence.count(1);
    expect(online!.data).toMatchObject({ state: "online", session: dev.client.welcome!.session });
    expect(online!.meta.key).toBe(id);

    expect(await watcher.client.command(id, "reboot", { delayS: 5 })).toEqual({ ok: true, delayS: 5 });
    expect(await server.command(id, "reboot", { delayS: 1 })).toEqual({ ok: true, delayS: 1 });
    expect(runs.map((r) => r.data)).toEqual([{ delayS: 5 }, { delayS: 1 }]);
    expect(new Set(runs.map((r) => r.cid)).size).toBe(2);

    // The hello's meta and device id, as the server sees them; ServerStats is typed.
    const st: ServerStats = await dev.client.serverStats();
    expect(st.session).toMatchObject({ client: "device", device: id, meta: { model: "TG-1", fw: 3, beta: false } });
    expect(st.devicesOnline).toBe(1);
    expect(st.sessions.device).toBe(1);
    expect(dev.errors).toEqual([]);
  });

  test("with a token the device id is the token's sub: no deviceId needed, the hello still carries meta", async () => {
    await using server = await startServer({ auth: hsAuth() });
    const id = deviceId();
    const token = await hs256({ sub: id, tg: { client: "device", subscribe: ["devices.{sub}.>"], publish: ["devices.{sub}.>"] } });
    await using dev = startClient(server.wsUrl, { token, clientType: "device", meta: { fw: 7 } });
    dev.client.onCommand("ping", () => "pong");
    await dev.until("connected");
    const opToken = await hs256({ sub: "operator", tg: { publish: ["devices.*.commands"] } });
    await using op = startClient(server.wsUrl, { token: opToken });
    expect(await op.client.command(id, "ping")).toBe("pong");
    const st = await dev.client.serverStats();
    expect(st.session).toMatchObject({ device: id, who: id, meta: { fw: 7 } });
    expect(st.server).toBeUndefined(); // no tg.admin: the short summary
    await expect(dev.client.command("someone-else", "x")).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
  });

  test("a hello refused for want of a token goes again once setToken's auth frame is acknowledged", async () => {
    await using server = await startServer({ auth: hsAuth() });
    const id = deviceId();
    await using dev = startClient(server.wsUrl, { clientType: "device", meta: { fw: 1 } });
    dev.client.onCommand("ping", () => "pong");
    await dev.until("connected");
    expect(dev.errors.map((e) => e.code)).toEqual([ErrorCode.UNAUTHORIZED]);
    expect(dev.errors[0]!.message).toContain("hello refused");
    await dev.client.setToken(await hs256({ sub: id, tg: { client: "device" } }));
    expect(await server.command(id, "ping", null, { ttlMs: 2000 })).toBe("pong");
    expect((await dev.client.serverStats()).session).toMatchObject({ device: id, meta: { fw: 1 } });
    expect(dev.errors).toHaveLength(1);
  });

  test("a command the server redelivers while the handler still runs is handled once", async () => {
    await using server = await startServer({ devices: { redeliverMs: 100 } });
    const id = deviceId();
    await using dev = startClient(server.wsUrl, { deviceId: id });
    let runs = 0;
    dev.client.onCommand("*", async (_data, { name }) => {
      runs++;
      await sleep(450); // several redeliveries (every 100 ms) arrive meanwhile
      return `${name} done`;
    });
    await dev.until("connected");
    await using op = startClient(server.wsUrl);
    expect(await op.client.command(id, "calibrate", null, { ttlMs: 5000 })).toBe("calibrate done");
    expect(server.devices.counters.redeliveries).toBeGreaterThanOrEqual(2);
    expect(runs).toBe(1);
    expect(dev.errors).toEqual([]);
  });

  test("an ack lost with the connection: the command comes again after the reconnect and is answered from memory", async () => {
    await using server = await startServer({ devices: { redeliverMs: 100 } });
    await using proxy = await startProxy(server.port);
    const id = deviceId();
    const rec = recordingWebSocket();
    await using dev = startClient(proxy.url, { deviceId: id, encoding: "json", WebSocket: rec.WebSocket, reconnect: { minDelayMs: 150, maxDelayMs: 150 } });
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    dev.client.onCommand("open-valve", async () => {
      runs++;
      started();
      await gate;
      return { valve: "open" };
    });
    await dev.until("connected");
    const answer = server.command(id, "open-valve", { v: 2 }, { ttlMs: 10_000 });
    await running;
    proxy.drop();
    await dev.until("reconnecting");
    release(); // resolves while disconnected: its ack has nowhere to go
    expect(await answer).toEqual({ valve: "open" });
    expect(runs).toBe(1);
    // The ack went out on the second connection, with the remembered result.
    const acks = rec.sent.filter((s) => s.frame.t === "command_ack");
    expect(acks.length).toBeGreaterThanOrEqual(1);
    expect(acks.every((a) => a.conn === 2)).toBe(true);
    expect(acks[0]!.frame.data).toEqual({ valve: "open" });
    expect(dev.client.stats().reconnects).toBe(1);
  });

  test("a throwing handler is reported, never acknowledged, run again on each resend; the sender gets COMMAND_TIMEOUT", async () => {
    await using server = await startServer({ devices: { redeliverMs: 100 } });
    const id = deviceId();
    await using dev = startClient(server.wsUrl, { deviceId: id });
    let runs = 0;
    dev.client.onCommand("explode", () => {
      runs++;
      throw new Error("boom");
    });
    await dev.until("connected");
    await using op = startClient(server.wsUrl);
    const t0 = performance.now();
    const err = (await op.client.command(id, "explode", { x: 1 }, { ttlMs: 400 }).catch((e: unknown) => e)) as TickgateClientError;
    expect(err).toBeInstanceOf(TickgateClientError);
    expect(err.code).toBe(ErrorCode.COMMAND_TIMEOUT);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(dev.errors.length).toBe(runs);
    expect(dev.errors[0]).toMatchObject({ code: ClientErrorCode.LISTENER_ERROR, details: { name: "explode" } });
    expect((dev.errors[0]!.cause as Error).message).toBe("boom");
    expect(server.devices.counters.commandsAcked).toBe(0);
  });

  test("a command without a handler is reported once and left for the server to resend; a handler added later gets it", async () => {
    await using server = await startServer({ devices: { redeliverMs: 100 } });
    const id = deviceId();
    await using dev = startClient(server.wsUrl, { deviceId: id });
    await dev.until("connected");
    const answer = server.command(id, "late", 7, { ttlMs: 5000 });
    const [e] = await dev.errorCount(1);
    expect(e).toMatchObject({ code: ClientErrorCode.NO_COMMAND_HANDLER, details: { name: "late" } });
    await eventually(() => server.devices.counters.redeliveries >= 2, "two redeliveries");
    expect(dev.errors).toHaveLength(1);
    dev.client.onCommand<number>("late", (x) => x * 6);
    expect(await answer).toBe(42);
  });

  test("log() is published on devices.<id>.log", async () => {
    await using server = await startServer();
    const id = deviceId();
    await using watcher = startClient(server.wsUrl);
    const logs = collector<{ level: string; message: string; ts: number }>();
    await watcher.client.subscribe(`devices.${id}.log`, logs.handler).ready();
    await using dev = startClient(server.wsUrl, { deviceId: id });
    dev.client.log("warn", "battery at 9%"); // queued until the hello is acknowledged
    await dev.until("connected");
    dev.client.log("info", "x".repeat(5000));
    const got = await logs.count(2);
    expect(got[0]!.data).toMatchObject({ level: "warn", message: "battery at 9%" });
    expect(got[1]!.data.message).toHaveLength(4096);
    expect(() => dev.client.log("loud" as "info", "?")).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_FRAME }));
    expect(dev.errors).toEqual([]);
  });

  test("after a reconnect the hello goes again before the subscriptions; commands queued meanwhile arrive; the will is published", async () => {
    await using server = await startServer();
    await using proxy = await startProxy(server.port);
    const id = deviceId();
    const rec = recordingWebSocket();
    const willTopic = `status.${id}`;
    await using dev = startClient(proxy.url, {
      deviceId: id,
      encoding: "json",
      WebSocket: rec.WebSocket,
      will: { topic: willTopic, data: { lost: true }, key: id },
      reconnect: { minDelayMs: 300, maxDelayMs: 300 },
    });
    const got: unknown[] = [];
    dev.client.onCommand("set", (data) => (got.push(data), "ok"));
    const topic = uniqueTopic("dv");
    const pubs = collector<number>();
    const sub = dev.client.subscribe<number>(topic, pubs.handler);
    await sub.ready();
    await using watcher = startClient(server.wsUrl);
    const presence = collector<{ state: string; reason?: string }>();
    const will = collector<{ lost: boolean }>();
    await watcher.client.subscribe(`devices.${id}.presence`, presence.handler).ready();
    await watcher.client.subscribe(willTopic, will.handler).ready();
    await presence.count(1);
    proxy.drop();
    await eventually(() => !server.devices.isOnline(id), "the server to notice the drop");
    // Queued on the server while the device is away.
    const answers = [server.command(id, "set", 1), server.command(id, "set", 2)];
    expect(await Promise.all(answers)).toEqual(["ok", "ok"]);
    expect(got).toEqual([1, 2]);
    await dev.until("connected");
    await sub.ready();
    server.publish(topic, 1);
    await pubs.count(1);

    expect((await will.count(1))[0]!.data).toEqual({ lost: true });
    expect((await presence.count(3)).map((p) => [p.data.state, p.data.reason])).toEqual([
      ["online", undefined],
      ["offline", "abnormal"],
      ["online", undefined],
    ]);
    for (const conn of [1, 2]) {
      const frames = rec.sent.filter((s) => s.conn === conn && s.frame.t !== "ping").map((s) => s.frame);
      expect(frames[0]).toMatchObject({ t: "hello", client: "device", device: id, will: { topic: willTopic, data: { lost: true }, key: id } });
      const sub = frames.findIndex((f) => f.t === "sub");
      expect(sub).toBeGreaterThan(0);
    }
    const second = rec.sent.filter((s) => s.conn === 2).map((s) => s.frame.t);
    expect(second.filter((t) => t === "command_ack")).toHaveLength(2);
    expect(dev.errors).toEqual([]);
  });

  test("a refused hello (a will on a server-only topic) is reported; the client carries on", async () => {
    await using server = await startServer({ policies: [{ match: "srv.>", publish: "server" }] });
    await using dev = startClient(server.wsUrl, { deviceId: deviceId(), will: { topic: "srv.x", data: 1 } });
    await dev.until("connected");
    expect(dev.errors.map((e) => e.code)).toEqual([ErrorCode.FORBIDDEN]);
    expect(dev.errors[0]!.message).toContain("hello refused");
    const topic = uniqueTopic();
    const c = collector();
    await dev.client.subscribe(topic, c.handler).ready();
    server.publish(topic, 1);
    await c.count(1);
  });

  test("device options are checked, and a device does not fall back to SSE unless told to", async () => {
    const bad = (o: Record<string, unknown>) => {
      try {
        new TickgateClient("ws://127.0.0.1:1/ws", o);
      } catch (e) {
        return (e as TickgateClientError).code;
      }
      return "accepted";
    };
    expect(bad({ deviceId: "a.b" })).toBe(ClientErrorCode.INVALID_OPTION);
    expect(bad({ deviceId: "x".repeat(129) })).toBe(ClientErrorCode.INVALID_OPTION);
    expect(bad({ deviceId: "ok", clientType: "browser" })).toBe(ClientErrorCode.INVALID_OPTION);
    expect(bad({ meta: { nested: { no: 1 } } })).toBe(ClientErrorCode.INVALID_OPTION);
    expect(bad({ meta: { long: "x".repeat(257) } })).toBe(ClientErrorCode.INVALID_OPTION);
    expect(bad({ will: { topic: "a.*" } })).toBe(ClientErrorCode.INVALID_OPTION);
    expect(bad({ will: { topic: "a.b", key: "" } })).toBe(ClientErrorCode.INVALID_OPTION);
    expect(bad({ deviceId: "ok", clientType: "device", meta: { a: 1 }, will: { topic: "a.b" } })).toBe("accepted");
    expect(new TickgateClient("ws://127.0.0.1:1/ws", { deviceId: "ok" }).url).toContain("client=device");

    await using silent = await silentServer();
    await using dev = startClient(silent.url, { deviceId: deviceId(), connectTimeoutMs: 50, reconnect: { minDelayMs: 5000 } });
    await dev.until("reconnecting");
    expect(dev.client.mode).toBe("websocket");
  });
});
