/**
 * examples/smartsignal (seed 000) end to end: the example's own `start()`
 * on port 0 with ~100 ms periods, SDK clients, and the one command it is
 * run with (spawned, read the printed port, SIGINT).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { TickgateClient, TickgateClientError } from "tickgate/client";
import { runClient } from "../../examples/smartsignal/client.ts";
import { start, STREAMS, TOPICS, type SmartSignal } from "../../examples/smartsignal/server.ts";
import { connect } from "../helpers/client.ts";

const ROOT = join(import.meta.dir, "..", "..");
const FAST = { simulation: 100, tower_data: 120, analytics: 140, kpi: 110 };
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function app(opts: Parameters<typeof start>[0] = {}): Promise<SmartSignal> {
  const a = await start({ port: 0, periods: FAST, print: () => {}, ...opts });
  cleanup.push(() => a.stop());
  return a;
}

async function client(a: SmartSignal): Promise<TickgateClient> {
  const c = new TickgateClient(a.wsUrl, { encoding: "json", reconnect: { maxAttempts: 1 } });
  cleanup.push(() => c.close());
  c.connect();
  await c.ready(3000);
  return c;
}

/** Resolves with the first `n` publications on `topic` that pass `pred`. */
function take<T = any>(c: TickgateClient, topic: string, n = 1, pred: (d: T) => boolean = () => true, timeoutMs = 20_000): Promise<T[]> {
  const got: T[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`only ${got.length}/${n} on ${topic} within ${timeoutMs} ms`))), timeoutMs);
    const off = c.subscribe<T>(topic, (d) => {
      if (!pred(d)) return;
      got.push(d);
      if (got.length === n) {
        clearTimeout(timer);
        off();
        resolve(got);
      }
    });
  });
}

describe("smartsignal example", () => {
  test("the welcome frame lists the subscriptions and the request methods", async () => {
    const c = await client(await app());
    expect(c.welcome?.topics).toEqual(TOPICS);
    expect(c.welcome?.methods).toEqual(expect.arrayContaining(["request_data", "get_server_stats", "raise_alert"]));
    expect(c.welcome?.commands).toEqual(expect.arrayContaining(["sub", "unsub", "ping", "stats", "req"]));
  });

  test("each stream arrives on its own period, with broadcast_time and active_connections", async () => {
    const a = await app();
    const c = await client(a);
    await client(a); // a second connection, counted in active_connections
    const streams = await Promise.all(STREAMS.map((t) => take<Record<string, any>>(c, t, 3)));
    for (const updates of streams) {
      for (const u of updates) {
        expect(Number.isNaN(Date.parse(u.broadcast_time))).toBe(false);
        expect(u.active_connections).toBeGreaterThanOrEqual(0); // the first one is the value retained at start
      }
      expect(updates.at(-1)!.active_connections).toBe(2);
      const times = updates.map((u) => Date.parse(u.broadcast_time));
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(50); // periodic, not a burst
    }
    const [sim, towers, analytics, kpi] = streams;
    expect(sim![0]).toMatchObject({ towers: expect.any(Array), network_stats: { towers_total: 6 }, performance_metrics: expect.any(Object) });
    expect(towers![0]!.towers).toHaveLength(6);
    expect(analytics![0]).toHaveProperty("anomaly_score");
    expect(kpi![0]).toHaveProperty("call_drop_rate");
  }, 10_000);

  test("a late subscriber gets the latest value of a stream at once (retained)", async () => {
    const a = await app({ periods: { simulation: 60_000, tower_data: 60_000, analytics: 60_000, kpi: 60_000 } });
    const c = await client(a);
    // Nothing is due for a minute: only the retained first value can arrive.
    const [kpi] = await take<Record<string, any>>(c, "kpi", 1, () => true, 1000);
    expect(kpi).toHaveProperty("call_setup_success");
  });

  test("alerts: on a KPI crossing its threshold, and on a raise_alert request", async () => {
    // A steady network (drop rate 1.2%) until `spike` flips; then every KPI tick spikes past 2%.
    let spike = false;
    const a = await app({ alertThreshold: 2, random: () => (spike ? 0.01 : 0.5) });
    const c = await client(a);
    const fromKpi = take<Record<string, any>>(c, "alerts", 1, (d) => d.source === "kpi");
    await take(c, "kpi", 2); // subscribed, and KPIs flow without an alert
    expect(a.alerts).toEqual([]);
    spike = true;
    const [alert0] = await fromKpi;
    expect(alert0).toMatchObject({ severity: "critical", threshold: 2, active_connections: 1 });
    expect(alert0!.value).toBeGreaterThan(2);

    const operator = take<Record<string, any>>(c, "alerts", 1, (d) => d.source === "operator");
    const res = await c.request<{ id: number; seq: number }>("raise_alert", { severity: "warning", message: "tower T003 on battery", tower_id: "T003" });
    expect(res.seq).toBeGreaterThan(0);
    const [alert] = await operator;
    expect(a.alerts.filter((x) => x.source === "kpi")).toHaveLength(1); // a long spike is one alert (rising edge)
    expect(alert).toMatchObject({ id: res.id, severity: "warning", message: "tower T003 on battery", tower_id: "T003" });

    // The handler's zod schema refuses bad input before it runs, naming the field.
    await expect(c.request("raise_alert", { severity: "apocalyptic", message: "x" })).rejects.toMatchObject({ code: "INVALID_FRAME", message: expect.stringContaining("raise_alert: severity") });
    await expect(c.request("raise_alert", { severity: "info" })).rejects.toMatchObject({ code: "INVALID_FRAME", message: expect.stringContaining("raise_alert: message") });
    expect(a.alerts).toHaveLength(2);
  }, 10_000);

  test("the fan-out line counts the subscriptions a publication reaches (server.subscribers)", async () => {
    const lines: string[] = [];
    const a = await app({ print: (l) => lines.push(l) });
    const c1 = await client(a);
    const c2 = await client(a);
    await Promise.all([take(c1, "kpi", 1), take(c2, "kpi", 1)]); // both subscribed (and each got the retained value)
    c1.subscribe("kpi", () => {});
    c2.subscribe("kpi", () => {});
    c1.subscribe("alerts", () => {});
    await Promise.all([take(c1, "kpi", 2), take(c2, "kpi", 2)]);
    expect(lines).toContain("📡 kpi → 2 subscriber(s)");
    const { seq } = await c2.request<{ seq: number }>("raise_alert", { message: "fan-out" });
    expect(lines).toContain(`📡 alerts #${seq} → 1 subscriber(s)`);
  });

  test("request handlers answer over HTTP too (POST /api/request/<method>), with the same codes", async () => {
    const a = await app();
    const post = (method: string, data: unknown) =>
      fetch(`${a.server.url}/api/request/${method}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ data }) });
    const ok = await post("request_data", { data_type: "kpi" });
    expect(ok.status).toBe(200);
    expect((await ok.json()).data).toMatchObject({ data_type: "kpi", data: { call_drop_rate: expect.any(Number) } });
    const unknown = await post("request_data", { data_type: "weather" });
    expect(unknown.status).toBe(422);
    expect((await unknown.json()).error).toMatchObject({ code: "UNKNOWN_DATA_TYPE", details: { available: expect.any(Array) } });
    const bad = await post("raise_alert", { severity: "info" });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe("INVALID_FRAME");
  });

  test("request_data answers every data type; an unknown one is a typed error", async () => {
    const a = await app();
    const c = await client(a);
    const ask = (data_type: string, params?: unknown) => c.request<Record<string, any>>("request_data", { data_type, params });
    expect((await ask("simulation")).data.towers).toHaveLength(6);
    expect((await ask("tower_data", { tower_id: "T002" })).data.towers).toEqual([expect.objectContaining({ id: "T002" })]);
    expect((await ask("analytics")).data).toHaveProperty("busiest_towers");
    expect((await ask("kpi")).data).toHaveProperty("latency_ms");
    await c.request("raise_alert", { message: "test alert" });
    expect((await ask("alerts", { limit: 5 })).data.alerts.at(-1)).toMatchObject({ message: "test alert" });

    const err = await ask("weather").catch((e) => e);
    expect(err).toBeInstanceOf(TickgateClientError);
    expect(err.code).toBe("UNKNOWN_DATA_TYPE");
    expect(err.details).toMatchObject({ data_type: "weather", available: ["simulation", "tower_data", "analytics", "kpi", "alerts"] });
    await expect(c.request("no_such_method")).rejects.toMatchObject({ code: "NO_HANDLER" });
  });

  test("server stats on request (get_server_stats) and as the stats frame", async () => {
    const a = await app();
    const c = await client(a);
    await take(c, "kpi", 2); // the retained value, then a live one
    const s = await c.request<Record<string, any>>("get_server_stats");
    expect(s.stats).toMatchObject({ active_connections: 1, uptime_seconds: expect.any(Number) });
    expect(s.stats.messages_sent).toBeGreaterThan(0);
    expect(s.stats.messages_received).toBeGreaterThan(0);
    expect(s.performance).toMatchObject({ cpu_percent: expect.any(Number), memory_percent: expect.any(Number), active_connections: 1 });

    // The protocol's own stats frame, as any language's client would send it.
    await using raw = await connect(a.wsUrl, { encoding: "json" });
    raw.send({ t: "stats", id: 1 });
    const frame = await raw.next((f) => f.t === "stats");
    expect(frame.data.connections).toBe(2);
  });

  test("the seed's error frames: invalid JSON, unknown message type, publishing to a stream", async () => {
    const a = await app();
    await using raw = await connect(a.wsUrl, { encoding: "json" });
    raw.sendRaw("{not json");
    expect(await raw.next((f) => f.t === "error")).toMatchObject({ code: "BAD_FRAME" });
    raw.send({ type: "subscribe", subscription: "kpi" }); // the seed's frame
    expect(await raw.next((f) => f.t === "error")).toMatchObject({ code: "UNKNOWN_TYPE" });
    raw.send({ t: "pub", id: 7, topic: "kpi", data: { call_drop_rate: 0 } });
    expect(await raw.next((f) => f.t === "error")).toMatchObject({ id: 7, code: "FORBIDDEN" });
    raw.send({ t: "ping", id: 8 });
    expect(await raw.next((f) => f.t === "pong")).toMatchObject({ id: 8 });
  });

  test("the example client discovers, subscribes and prints", async () => {
    const a = await app();
    const lines: string[] = [];
    const run = await runClient(a.wsUrl, { print: (l) => lines.push(l) });
    cleanup.push(() => run.stop());
    const t0 = Date.now();
    while (!STREAMS.every((t) => lines.some((l) => l.startsWith(`${t}: `))) && Date.now() - t0 < 20_000) await Bun.sleep(20);
    expect(lines.find((l) => l.startsWith("welcome:"))).toContain("topics [simulation, tower_data, analytics, kpi, alerts]");
    expect(lines.some((l) => l.startsWith("request_data weather → UNKNOWN_DATA_TYPE"))).toBe(true);
    expect(lines.some((l) => l.startsWith("server stats:"))).toBe(true);
    for (const t of STREAMS) expect(lines.some((l) => l.startsWith(`${t}: `))).toBe(true);
  });

  test("npm run example:smartsignal: prints its port and activity, exits 0 on SIGINT", async () => {
    const proc = spawn(process.execPath, ["examples/smartsignal/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", PERIOD_SCALE: "0.01" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanup.push(() => proc.exitCode === null && proc.kill("SIGKILL"));
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    const t0 = Date.now();
    while (!/\[client\] kpi: /.test(out) && Date.now() - t0 < 8000) await Bun.sleep(25);
    expect(out).toMatch(/smartsignal listening on ws:\/\/127\.0\.0\.1:\d+\/ws/);
    expect(out).toMatch(/📡 simulation → \d+ subscriber\(s\)/);
    expect(out).toContain("[client] welcome:");
    proc.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(out).toContain("stopping");
    expect(out).toContain("stopped");
    expect(out).toMatch(/client left: .* \(code 100[01]\)/); // the demo client: closed by itself (1000) or by the shutdown (1001)
  }, 15_000);
});
