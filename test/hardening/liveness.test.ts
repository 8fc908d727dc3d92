// Issue 16, item 3: dead peers are detected whatever the server sends.
// The peers are raw TCP WebSocket clients that never answer pings (and
// send nothing) while keeping their socket open; the server keeps writing
// to them. Small timeouts keep the tests short; they wait on events (close
// frames, close listeners, presence publications), never on durations.
import { describe, expect, test } from "bun:test";
import { unpackr } from "../../src/protocol/codec.ts";
import { CloseCode } from "../../src/protocol/codes.ts";
import { connect, subscribe, type Frame } from "../helpers/client.ts";
import { rawConnect } from "../helpers/raw-ws.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";

const msgOn = (topic: string) => (f: Frame) => f.t === "msg" && f.topic === topic;

/** Publishes on `topic` until `done` settles, so the server never stops writing to its subscribers. */
function keepPublishing(server: TestServer, topic: string, done: Promise<unknown>): void {
  let stop = false;
  void done.finally(() => (stop = true));
  const tick = () => {
    if (stop) return;
    server.publish(topic, { at: Date.now() });
    setTimeout(tick, 20);
  };
  tick();
}

/** Resolves with the close code of the next connection closing with one of `codes`. */
function nextClose(server: TestServer, codes: number[]): Promise<number> {
  return new Promise((resolve) => {
    const off = server.on("close", (info) => {
      if (info.code !== undefined && codes.includes(info.code)) {
        off();
        resolve(info.code);
      }
    });
  });
}

describe("liveness", () => {
  test("a subscriber that stops answering pings is closed with 4009 while the server keeps writing to it", async () => {
    await using server = await startServer({ idleTimeoutSec: 1 });
    const topic = uniqueTopic("live");
    const raw = await rawConnect(server.port);
    const frames: Record<string, unknown>[] = [];
    let acked!: () => void;
    const ack = new Promise<void>((r) => (acked = r));
    raw.resume((p) => {
      const f = unpackr.unpack(p) as Record<string, unknown>;
      frames.push(f);
      if (f.t === "ack" && f.id === 1) acked();
    });
    raw.sendFrame({ t: "sub", id: 1, topic });
    await ack;
    keepPublishing(server, topic, raw.closed);
    // It still reads (the server's frames keep arriving) but never answers the ping.
    await raw.closed;
    expect(raw.closeCode).toBe(CloseCode.PEER_TIMEOUT);
    expect(frames.some((f) => f.t === "msg")).toBe(true);
  });

  test("a client that answers pings stays open while it sends nothing else", async () => {
    await using server = await startServer({ idleTimeoutSec: 2 });
    const topic = uniqueTopic("live");
    // Bun's WebSocket client answers pings itself.
    await using healthy = await connect(server.wsUrl);
    await subscribe(healthy, topic);
    const dead = await rawConnect(server.port);
    dead.resume();
    keepPublishing(server, topic, dead.closed);
    // The silent raw peer is closed; by then the healthy one has been pinged too and answered.
    await dead.closed;
    expect(dead.closeCode).toBe(CloseCode.PEER_TIMEOUT);
    healthy.send({ t: "ping", id: "still-here" });
    expect((await healthy.next((f) => f.id === "still-here")).t).toBe("pong");
  });

  test("a device that stops answering while a command is re-sent goes offline with the reason, and its will fires", async () => {
    await using server = await startServer({ idleTimeoutSec: 1, devices: { redeliverMs: 50 } });
    await using w = await connect(server.wsUrl);
    await subscribe(w, ">");
    const raw = await rawConnect(server.port);
    raw.resume();
    raw.sendFrame({ t: "hello", id: 1, client: "device", device: "hung-1", will: { topic: "status.hung-1", data: { alive: false } } });
    expect((await w.next(msgOn("devices.hung-1.presence"))).data).toMatchObject({ state: "online" });
    // Never acknowledged: the server keeps re-sending it to the device.
    void server.command("hung-1", "reboot", {}, { ttlMs: 60_000 }).catch(() => {});
    const off = await w.next(msgOn("devices.hung-1.presence"), 45_000);
    expect(off.data).toMatchObject({ state: "offline", reason: "abnormal", code: CloseCode.PEER_TIMEOUT });
    expect((await w.next(msgOn("status.hung-1"), 45_000)).data).toEqual({ alive: false });
    await raw.closed;
  });

  for (const action of ["drop", "conflate"] as const) {
    test(`a reader stuck past its backpressure limit under '${action}' is closed with 4008 after maxLagMs`, async () => {
      await using server = await startServer({
        // Liveness off: only the lag limit may close it.
        idleTimeoutSec: 0,
        slowConsumer: { checkIntervalMs: 10, nativeLimitBytes: 64 * 1024 * 1024, maxLagMs: 200 },
        defaultPolicy: { maxPayload: 128 * 1024, limitBytes: 64 * 1024 },
        policies: [{ match: "stuck.>", action }],
      });
      const topic = uniqueTopic("stuck");
      const raw = await rawConnect(server.port);
      let acked!: () => void;
      const ack = new Promise<void>((r) => (acked = r));
      raw.resume((p) => {
        const f = unpackr.unpack(p) as Record<string, unknown>;
        if (f.t === "ack" && f.id === 1) acked();
      });
      raw.sendFrame({ t: "sub", id: 1, topic });
      await ack;
      raw.pause();
      const closed = nextClose(server, [CloseCode.SLOW_CONSUMER]);
      const pad = "x".repeat(32 * 1024);
      let stop = false;
      void closed.finally(() => (stop = true));
      // Bounded: at most 20,000 publications of 32 KiB.
      for (let i = 0; i < 20_000 && !stop; i++) {
        server.publish(topic, { i, pad }, { key: `k${i % 5}` });
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      expect(await closed).toBe(CloseCode.SLOW_CONSUMER);
      raw.destroy();
    });
  }
});
