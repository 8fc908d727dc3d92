/**
 * The demo device fleet, on a real server with the demo policies: devices
 * publish telemetry, drop off and come back, and a late subscriber sees
 * the retained state of every device at once.
 */
import { describe, expect, test } from "bun:test";
import { DEMO_POLICIES, startDemo } from "../../src/demo/feeds/index.ts";
import { deviceIds, startDeviceFleet } from "../../src/demo/feeds/devices.ts";
import { connect, subscribe, type Frame } from "../helpers/client.ts";
import { startServer } from "../helpers/server.ts";

/** A seeded random source (mulberry32), so a run's drop-offs are the same every time. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("device fleet", () => {
  test("devices publish telemetry, and statuses flip offline and back online", async () => {
    await using server = await startServer({ policies: [...DEMO_POLICIES] });
    await using c = await connect(server.wsUrl, { encoding: "json" });
    await subscribe(c, "devices.>");
    const stop = startDeviceFleet(server, { count: 4, intervalMs: 20, offlineChance: 0.2, offlineMs: [40, 80], random: seeded(7) });
    try {
      const ids = new Set(deviceIds(4));
      const seen = new Map<string, string[]>(); // device → status sequence
      const telemetry = new Set<string>();
      const deadline = Date.now() + 5000;
      // Until some device has gone offline and come back, and every device has sent telemetry.
      const flipped = () => [...seen.values()].some((s) => s.join(",").includes("offline,online"));
      while (!(flipped() && telemetry.size === ids.size) && Date.now() < deadline) {
        const f: Frame = await c.next((f) => f.t === "msg", deadline - Date.now());
        const [, id, kind] = f.topic.split(".");
        expect(ids.has(id!)).toBe(true);
        if (kind === "telemetry") {
          telemetry.add(id!);
          expect(Object.keys(f.data).sort()).toEqual(["battery", "humidity", "rssi", "temperature", "ts"]);
          expect(f.data.battery).toBeGreaterThanOrEqual(0);
          expect(f.data.battery).toBeLessThanOrEqual(100);
          expect(f.data.rssi).toBeLessThan(0);
        } else {
          expect(kind).toBe("status");
          expect(["online", "offline"]).toContain(f.data.state);
          expect(typeof f.data.reason).toBe("string");
          seen.set(id!, [...(seen.get(id!) ?? []), f.data.state]);
        }
      }
      expect(telemetry).toEqual(ids);
      expect(flipped()).toBe(true);
      // Every device announced itself first.
      for (const states of seen.values()) expect(states[0]).toBe("online");
    } finally {
      stop();
    }
  });

  test("an offline device sends no telemetry until it is back", async () => {
    await using server = await startServer({ policies: [...DEMO_POLICIES] });
    await using c = await connect(server.wsUrl, { encoding: "json" });
    await subscribe(c, "devices.>");
    const stop = startDeviceFleet(server, { count: 3, intervalMs: 15, offlineChance: 0.3, offlineMs: [50, 60], random: seeded(42) });
    try {
      const offline = new Set<string>();
      let flips = 0;
      const deadline = Date.now() + 5000;
      while (flips < 3 && Date.now() < deadline) {
        const f = await c.next((f) => f.t === "msg", deadline - Date.now());
        const [, id, kind] = f.topic.split(".");
        if (kind === "status") {
          if (f.data.state === "offline") offline.add(id!);
          else if (offline.delete(id!)) flips++;
        } else expect(offline.has(id!), `${id} sent telemetry while offline`).toBe(false);
      }
      expect(flips).toBe(3);
    } finally {
      stop();
    }
  });

  test("startDemo runs the fleet; status and telemetry are retained for late subscribers", async () => {
    await using server = await startServer({ policies: [...DEMO_POLICIES] });
    const stop = startDemo(server, { market: { rate: 50, symbols: ["ABC-USD"] }, devices: { count: 2, intervalMs: 20, offlineChance: 0 } });
    try {
      const deadline = Date.now() + 5000;
      while (server.broker.topics.get("devices.sim-02.telemetry") === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await using late = await connect(server.wsUrl);
      await subscribe(late, "devices.*.status");
      const statuses = await late.collect(2, (f) => f.t === "msg");
      expect(statuses.map((f) => f.topic).sort()).toEqual(["devices.sim-01.status", "devices.sim-02.status"]);
      expect(statuses.every((f) => f.data.state === "online")).toBe(true);
      await subscribe(late, "devices.sim-01.telemetry");
      expect((await late.next((f) => f.topic === "devices.sim-01.telemetry")).data.temperature).toBeNumber();
      await subscribe(late, "prices.>");
      expect((await late.next((f) => f.topic === "prices.ABC-USD")).data.symbol).toBe("ABC-USD");
    } finally {
      stop();
    }
  });

  test("devices publish as the server: clients may not write to their topics", async () => {
    await using server = await startServer({ policies: [...DEMO_POLICIES] });
    await using c = await connect(server.wsUrl);
    c.send({ t: "pub", id: 1, topic: "devices.sim-01.status", data: { state: "offline", reason: "spoofed" } });
    const f = await c.next((f) => f.id === 1);
    expect(f.t).toBe("error");
    expect(f.code).toBe("FORBIDDEN");
  });

  test("stop() ends every device's timers", async () => {
    await using server = await startServer();
    const stop = startDeviceFleet(server, { count: 3, intervalMs: 10 });
    while (server.stats().messages.publications <= 3) await new Promise((r) => setTimeout(r, 10));
    stop();
    const before = server.stats().messages.publications;
    await new Promise((r) => setTimeout(r, 60));
    expect(server.stats().messages.publications).toBe(before);
    expect(before).toBeGreaterThan(3);
  });
});
