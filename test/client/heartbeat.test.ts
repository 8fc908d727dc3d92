/**
 * Heartbeat and connect timeout: a server that stops answering is noticed
 * by the client, which moves on to reconnecting.
 */
import { describe, expect, test } from "bun:test";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { collector, silentServer, startClient } from "./support.ts";

describe("TickgateClient heartbeat", () => {
  test("a server that completes the upgrade, welcomes, then ignores every frame is found dead by the heartbeat", async () => {
    await using silent = await silentServer({ welcome: true });
    const heartbeatMs = 100;
    await using w = startClient(silent.url, { encoding: "json", heartbeatMs, fallback: false, reconnect: { minDelayMs: 5_000 } });
    await w.until("connected");
    const t0 = performance.now();
    await w.until("reconnecting", 2000);
    const took = performance.now() - t0;
    // Not before one unanswered beat: it was the heartbeat, not the connect, that gave up.
    expect(took).toBeGreaterThanOrEqual(heartbeatMs);
    expect(w.states).toEqual(["connecting", "connected", "reconnecting"]);
    expect(w.retries).toHaveLength(1);
  });

  test("a WebSocket that never opens counts as a failed attempt after connectTimeoutMs", async () => {
    await using silent = await silentServer();
    await using w = startClient(silent.url, { connectTimeoutMs: 100, fallback: false, reconnect: { minDelayMs: 5_000 } });
    const t0 = performance.now();
    await w.until("reconnecting", 2000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    expect(silent.accepted()).toBe(1);
    expect(w.client.mode).toBe("websocket");
  });

  test("a live server keeps a quiet connection up across many heartbeats", async () => {
    await using server = await startServer();
    await using w = startClient(server.wsUrl, { heartbeatMs: 30 });
    const topic = uniqueTopic();
    const c = collector();
    await w.client.subscribe(topic, c.handler).ready();
    // Negative claim: it takes time to show nothing happens (about 10 beats).
    await new Promise((r) => setTimeout(r, 300));
    server.publish(topic, "still here");
    await c.count(1);
    expect(w.states).toEqual(["connecting", "connected"]);
    expect(w.client.stats().reconnects).toBe(0);
  });

  test("each answered heartbeat ping is a 'heartbeat' event with its round trip; stats().rttMs is the last", async () => {
    await using server = await startServer();
    await using w = startClient(server.wsUrl, { heartbeatMs: 25 });
    const beats: number[] = [];
    w.client.on("heartbeat", ({ rttMs }) => beats.push(rttMs));
    expect(w.client.stats().rttMs).toBeUndefined();
    await w.until("connected");
    while (beats.length < 3) await new Promise((r) => setTimeout(r, 10));
    for (const rtt of beats) {
      expect(rtt).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(rtt)).toBe(true);
    }
    expect(w.client.stats().rttMs).toBe(beats.at(-1)!);
    // A listener that throws is reported and changes nothing.
    w.client.on("heartbeat", () => {
      throw new Error("bad listener");
    });
    const [e] = await w.errorCount(1);
    expect(e!.code).toBe("LISTENER_ERROR");
    expect(w.states).toEqual(["connecting", "connected"]);
  });
});
