/**
 * SmartSignal's client protocol (seed 000) as a legacy protocol (issue 15,
 * item 2): the example server accepts the old clients on `/`, the seed's
 * own frames byte for byte, beside SDK clients on `/ws`; the same declared
 * topics, handlers and limits. Real server, real sockets.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { start, STREAMS, TOPICS, type SmartSignal } from "../../examples/smartsignal/server.ts";
import { createServer } from "../../src/adapter/bun/index.ts";
import { internals } from "../../src/internal.ts";
import { SEED_TEXT, SMARTSIGNAL_COMMANDS, smartsignal000 } from "../../src/legacy/index.ts";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { connect } from "../helpers/client.ts";
import type { TestServer } from "../helpers/server.ts";
import { hs256, hsAuth } from "../helpers/tokens.ts";
import { legacyConnect, type LegacyPeer } from "./legacy-client.ts";

/** The seed's frames, as its document writes them. */
const SEED = {
  subscribe: `{
    "type": "subscribe",
    "subscription": "simulation"
}`,
  unsubscribe: `{
    "type": "unsubscribe", 
    "subscription": "kpi"
}`,
  stats: `{
    "type": "get_server_stats"
}`,
  ping: `{
    "type": "ping"
}`,
  requestData: `{
    "type": "request_data",
    "data_type": "tower_data",
    "params": {}
}`,
  /** The JavaScript example's subscription: JSON.stringify({type: 'subscribe', subscription: 'simulation'}). */
  jsSubscribe: JSON.stringify({ type: "subscribe", subscription: "simulation" }),
};

const FAST = { simulation: 100, tower_data: 120, analytics: 140, kpi: 110 };
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function app(): Promise<SmartSignal> {
  const a = await start({ port: 0, periods: FAST, print: () => {} });
  cleanup.push(() => a.stop());
  return a;
}

async function old(a: SmartSignal): Promise<{ peer: LegacyPeer; welcome: string }> {
  const peer = await legacyConnect(a.legacyUrl!);
  cleanup.push(() => peer[Symbol.asyncDispose]());
  return { peer, welcome: await peer.next() };
}

describe("legacy smartsignal-000 on the example server", () => {
  test("issue 15: the welcome frame is the seed's, key for key; the seed's subscribe brings simulation_update frames", async () => {
    const a = await app();
    const { peer, welcome } = await old(a);
    const w = JSON.parse(welcome);
    expect(Object.keys(w)).toEqual(["type", "message", "client_id", "server_time", "available_subscriptions", "commands"]);
    expect(welcome).toBe(
      JSON.stringify({ type: "welcome", message: "مرحباً بك في SmartSignal AI! 🚀", client_id: w.client_id, server_time: w.server_time, available_subscriptions: TOPICS, commands: ["subscribe", "unsubscribe", "get_server_stats", "ping", "request_data"] }),
    );
    expect(w.available_subscriptions).toEqual(["simulation", "tower_data", "analytics", "kpi", "alerts"]);
    expect(w.server_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    expect(w.commands).toEqual([...SMARTSIGNAL_COMMANDS]);
    peer.send(SEED.subscribe);
    expect(await peer.next()).toBe(JSON.stringify({ type: "subscribed", subscription: "simulation" }));
    // The retained value comes first (broadcast before anyone connected), then live ones.
    const first = await peer.nextJson((m) => m.type === "simulation_update");
    expect(Object.keys(first)).toEqual(["type", "data", "broadcast_time", "active_connections"]);
    expect(first.data).toHaveProperty("towers");
    expect(first.data).not.toHaveProperty("broadcast_time");
    const live = await peer.nextJson((m) => m.type === "simulation_update" && m.active_connections >= 1);
    expect(live.broadcast_time).toMatch(/^\d{4}-/);
  });

  test("a misspelt subscription gets the old error, with the tickgate code; the declared topics agree with the welcome", async () => {
    const a = await app();
    const { peer } = await old(a);
    peer.send(JSON.stringify({ type: "subscribe", subscription: "weather" }));
    const e = await peer.nextJson();
    expect(e).toMatchObject({ type: "error", message: `${SEED_TEXT.unknownSubscription}weather`, code: ErrorCode.UNKNOWN_TOPIC });
    // An SDK-side client on /ws is held to the same list.
    await using c = await connect(a.wsUrl, { encoding: "json" });
    c.send({ t: "sub", id: 1, topic: "weather" });
    expect((await c.next((f) => f.id === 1)).code).toBe(ErrorCode.UNKNOWN_TOPIC);
  });

  test("unsubscribe, get_server_stats, ping and request_data, from the seed's frames", async () => {
    const a = await app();
    const { peer } = await old(a);
    peer.send(JSON.stringify({ type: "subscribe", subscription: "kpi" }));
    expect(await peer.next((r) => r.includes('"subscribed"'))).toBe(JSON.stringify({ type: "subscribed", subscription: "kpi" }));
    peer.send(SEED.unsubscribe);
    expect(await peer.next((r) => r.includes('"unsubscribed"'))).toBe(JSON.stringify({ type: "unsubscribed", subscription: "kpi" }));
    peer.send(SEED.stats);
    const s = await peer.nextJson((m) => m.type === "server_stats");
    expect(Object.keys(s)).toEqual(["type", "stats", "performance"]);
    expect(Object.keys(s.stats)).toEqual(["active_connections", "messages_sent", "messages_received", "uptime_seconds"]);
    expect(Object.keys(s.performance)).toEqual(["cpu_percent", "memory_percent", "active_connections", "total_messages"]);
    expect(s.stats.active_connections).toBe(1);
    peer.send(SEED.ping);
    expect((await peer.nextJson((m) => m.type === "pong")).server_time).toMatch(/^\d{4}-/);
    peer.send(SEED.requestData);
    const d = await peer.nextJson((m) => m.type === "data_response");
    expect(d.data_type).toBe("tower_data");
    expect(Array.isArray(d.data.towers)).toBe(true);
    peer.send(JSON.stringify({ type: "request_data", data_type: "weather", params: {} }));
    expect(await peer.nextJson((m) => m.type === "error")).toMatchObject({ code: "UNKNOWN_DATA_TYPE" });
  });

  test("bad JSON and an unknown type get the seed's error frames byte for byte; the connection stays up", async () => {
    const a = await app();
    const { peer } = await old(a);
    peer.send("{oops");
    expect(await peer.next()).toBe(JSON.stringify({ type: "error", message: "تنسيق JSON غير صحيح" }));
    peer.send(JSON.stringify({ type: "unknown_type" }));
    expect(await peer.next()).toBe(JSON.stringify({ type: "error", message: "نوع الرسالة غير مدعوم: unknown_type" }));
    peer.send(SEED.jsSubscribe);
    expect(await peer.next((r) => r.includes('"subscribed"'))).toBe(JSON.stringify({ type: "subscribed", subscription: "simulation" }));
  });

  test("old and new clients side by side get the same publications", async () => {
    const a = await app();
    const { peer } = await old(a);
    await using c = await connect(a.wsUrl, { encoding: "json" });
    peer.send(JSON.stringify({ type: "subscribe", subscription: "alerts" }));
    await peer.next((r) => r.includes('"subscribed"'));
    c.send({ t: "sub", id: 1, topic: "alerts" });
    await c.next((f) => f.id === 1);
    c.send({ t: "req", id: 2, method: "raise_alert", data: { message: "tower 7 down", severity: "critical" } });
    await c.next((f) => f.id === 2 && f.t === "res");
    const fromNew = await c.next((f) => f.t === "msg" && f.topic === "alerts");
    const fromOld = await peer.nextJson((m) => m.type === "alerts_update");
    expect(fromOld.data).toMatchObject({ message: "tower 7 down", severity: "critical", id: fromNew.data.id });
    for (const t of STREAMS) expect(a.server.subscribers(t)).toBeGreaterThanOrEqual(0);
  });
});

describe("legacy smartsignal-000: no way around auth", () => {
  test("with auth required, an old client without a token is refused everything, from localhost too; a token in ?token= works", async () => {
    const server = internals(createServer({ host: "127.0.0.1", port: 0, topics: ["kpi"], auth: hsAuth({ timeoutMs: 300 }) })) as TestServer;
    server.legacy(smartsignal000({ path: "/old" }));
    await server.listen();
    cleanup.push(() => server.close());
    const url = `${server.url.replace(/^http/, "ws")}/old`;
    const anon = await legacyConnect(url);
    cleanup.push(() => anon[Symbol.asyncDispose]());
    await anon.next(); // the welcome
    anon.send(JSON.stringify({ type: "subscribe", subscription: "kpi" }));
    expect(await anon.nextJson()).toMatchObject({ type: "error", code: ErrorCode.UNAUTHORIZED });
    expect((await anon.closed).code).toBe(4408);
    const token = await hs256({ sub: "dash-1", tg: { subscribe: ["kpi"] } });
    const ok = await legacyConnect(`${url}?token=${token}`);
    cleanup.push(() => ok[Symbol.asyncDispose]());
    await ok.next();
    ok.send(JSON.stringify({ type: "subscribe", subscription: "kpi" }));
    expect(await ok.next()).toBe(JSON.stringify({ type: "subscribed", subscription: "kpi" }));
    // The server's own stats frame, mapped: what tickgate does not measure is null.
    ok.send(SEED.stats);
    const s = await ok.nextJson((m) => m.type === "server_stats");
    expect(s.performance.memory_percent).toBeNull();
    expect(s.stats.active_connections).toBe(1);
    server.publish("kpi", { call_drop_rate: 1.5 });
    expect(await ok.nextJson((m) => m.type === "kpi_update")).toMatchObject({ data: { call_drop_rate: 1.5 } });
  });
});
