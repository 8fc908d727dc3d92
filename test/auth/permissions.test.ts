/**
 * Grants: a token for one topic cannot reach another; a subscription
 * pattern is allowed only if one grant covers everything it can match;
 * `{sub}` templates cannot be widened by a crafted subject; `req` needs a
 * request grant. Every refusal is FORBIDDEN, leaks nothing, and leaves an
 * audit line (who, ip, action, target).
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { startLoggedServer, type LogCapture } from "../helpers/log-capture.ts";
import type { TestServer } from "../helpers/server.ts";
import { ALL_TG, hs256, hsAuth, type MintOptions } from "../helpers/tokens.ts";

async function as(server: TestServer, o: MintOptions, encoding: "msgpack" | "json" = "msgpack"): Promise<TestClient> {
  return connect(server.wsUrl, { encoding, headers: { authorization: `Bearer ${await hs256(o)}` } });
}

let ids = 0;
/** Sends a frame with a fresh id and returns the answer to it. */
async function call(c: TestClient, frame: Record<string, unknown>) {
  const id = `c${++ids}`;
  c.send({ ...frame, id });
  return c.next((f) => f.id === id);
}

/** Round-trips a ping, so every frame the server sent before it has arrived. */
async function settle(c: TestClient): Promise<void> {
  const id = `settle-${++ids}`;
  c.send({ t: "ping", id });
  await c.next((f) => f.id === id);
}

function expectAudit(logs: LogCapture, who: string, action: string, target: string) {
  const lines = logs.find({ event: "forbidden", action, target });
  expect(lines.length).toBeGreaterThan(0);
  const f = lines.at(-1)!.fields;
  expect(f.who).toBe(who);
  expect(f.ip).toBe("127.0.0.1");
  expect(typeof f.session).toBe("string");
  expect(lines.at(-1)!.level).toBe("warn");
}

describe("grants", () => {
  test("a token for one topic used on another: subscribe and publish are FORBIDDEN, nothing reaches anyone", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth() });
    await using _ = server;
    await using watch = await as(server, { sub: "ops", tg: ALL_TG });
    await subscribe(watch, ">");
    await using c = await as(server, { sub: "alice", tg: { subscribe: ["orders.alice"], publish: ["orders.alice"] } }, "json");
    const before = server.stats().messages.publications;

    expect(await call(c, { t: "sub", topic: "orders.bob" })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expect(await call(c, { t: "pub", topic: "orders.bob", data: { steal: true } })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expect(await call(c, { t: "pub", topic: "orders.bob.x", data: 1 })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expect(server.stats().messages.publications).toBe(before);
    expectAudit(logs, "alice", "subscribe", "orders.bob");
    expectAudit(logs, "alice", "publish", "orders.bob");

    // Bob's traffic does not reach alice through the refused subscription.
    server.publish("orders.bob", { secret: 1 });
    // The allowed topic works, and is the only thing the watcher sees.
    expect(await call(c, { t: "sub", topic: "orders.alice" })).toMatchObject({ t: "ack" });
    expect(await call(c, { t: "pub", topic: "orders.alice", data: { mine: true } })).toMatchObject({ t: "ack" });
    expect((await c.next((f) => f.t === "msg")).topic).toBe("orders.alice");
    const seen = await watch.collect(2, (f) => f.t === "msg");
    expect(seen.map((f) => [f.topic, f.data])).toEqual([
      ["orders.bob", { secret: 1 }],
      ["orders.alice", { mine: true }],
    ]);
    await settle(c);
    await settle(watch);
    expect(c.frames.filter((f) => f.t === "msg")).toEqual([]);
    expect(watch.frames.filter((f) => f.t === "msg")).toEqual([]);
  });

  test("wildcard escalation: with prices.* only prices.* and prices.<one> are allowed", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth() });
    await using _ = server;
    await using c = await as(server, { sub: "trader", tg: { subscribe: ["prices.*"] } });
    for (const p of [">", "prices.>", "*.BTC", "*.*", "prices.*.x", "prices.BTC.x", "prices", "*", "news.>"]) {
      expect({ p, r: (await call(c, { t: "sub", topic: p })).code }).toEqual({ p, r: ErrorCode.FORBIDDEN });
      expectAudit(logs, "trader", "subscribe", p);
    }
    for (const p of ["prices.*", "prices.BTC"]) {
      expect({ p, r: (await call(c, { t: "sub", topic: p })).t }).toEqual({ p, r: "ack" });
    }
    // A bad pattern is a BAD_TOPIC, not a way around the check.
    expect((await call(c, { t: "sub", topic: "prices.>.x" })).code).toBe(ErrorCode.BAD_TOPIC);
    // Nothing outside the grant arrives; inside it does (once per publication).
    server.publish("prices.BTC.deep", 1);
    server.publish("news.BTC", 2);
    server.publish("prices.ETH", 3);
    expect((await c.next((f) => f.t === "msg")).topic).toBe("prices.ETH");
    await settle(c);
    expect(c.frames.filter((f) => f.t === "msg")).toEqual([]);
    // Read-only: no publish grant at all.
    expect((await call(c, { t: "pub", topic: "prices.BTC", data: 1 })).code).toBe(ErrorCode.FORBIDDEN);
  });

  test("templated grant devices.{sub}.>: dev1 publishes under devices.dev1 only", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth() });
    await using _ = server;
    await using watch = await as(server, { sub: "ops", tg: ALL_TG });
    await subscribe(watch, "devices.>");
    const tg = { subscribe: ["devices.{sub}.>"], publish: ["devices.{sub}.>"] };
    await using d1 = await as(server, { sub: "dev1", tg });
    expect((await call(d1, { t: "pub", topic: "devices.dev1.telemetry", data: { t: 21 } })).t).toBe("ack");
    expect((await call(d1, { t: "pub", topic: "devices.dev2.telemetry", data: { t: 99 } })).code).toBe(ErrorCode.FORBIDDEN);
    expect((await call(d1, { t: "sub", topic: "devices.dev2.>" })).code).toBe(ErrorCode.FORBIDDEN);
    expect((await call(d1, { t: "sub", topic: "devices.*.telemetry" })).code).toBe(ErrorCode.FORBIDDEN);
    expect((await call(d1, { t: "sub", topic: "devices.dev1.>" })).t).toBe("ack");
    expectAudit(logs, "dev1", "publish", "devices.dev2.telemetry");
    expect((await watch.next((f) => f.t === "msg")).topic).toBe("devices.dev1.telemetry");
    await settle(watch);
    expect(watch.frames.filter((f) => f.t === "msg")).toEqual([]);
  });

  test("a sub claim with '.', '>' or '*' drops the templated grant: nothing is allowed", async () => {
    const { server } = await startLoggedServer({ auth: hsAuth() });
    await using _ = server;
    await using watch = await as(server, { sub: "ops", tg: ALL_TG });
    await subscribe(watch, ">");
    const tg = { subscribe: ["devices.{sub}.>"], publish: ["devices.{sub}.>", "devices.{sub}"] };
    for (const sub of ["dev1.x", ">", "*", "dev2.>", "a b"]) {
      await using c = await as(server, { sub, tg });
      for (const topic of ["devices.dev1.x.y", "devices.dev1.telemetry", "devices.dev2.telemetry", "devices._.x", "devices._", "devices.x"]) {
        expect({ sub, topic, code: (await call(c, { t: "pub", topic, data: 1 })).code }).toEqual({ sub, topic, code: ErrorCode.FORBIDDEN });
      }
      for (const p of [">", "devices.>", "devices.dev1.>", "devices.*.>", "devices._.>"]) {
        expect({ sub, p, code: (await call(c, { t: "sub", topic: p })).code }).toEqual({ sub, p, code: ErrorCode.FORBIDDEN });
      }
    }
    // Another claim as template: a missing or non-string claim drops the grant too.
    const tenantTg = { publish: ["tenants.{tenant}.>"] };
    await using acme = await as(server, { sub: "u1", tg: tenantTg, extra: { tenant: "acme" } });
    expect((await call(acme, { t: "pub", topic: "tenants.acme.x", data: 1 })).t).toBe("ack");
    expect((await call(acme, { t: "pub", topic: "tenants.other.x", data: 1 })).code).toBe(ErrorCode.FORBIDDEN);
    for (const extra of [{}, { tenant: 7 }, { tenant: "a.b" }, { tenant: ["acme"] }]) {
      await using c = await as(server, { sub: "u2", tg: tenantTg, extra });
      expect((await call(c, { t: "pub", topic: "tenants.acme.x", data: 1 })).code).toBe(ErrorCode.FORBIDDEN);
      expect((await call(c, { t: "pub", topic: "tenants._.x", data: 1 })).code).toBe(ErrorCode.FORBIDDEN);
    }
    expect((await watch.next((f) => f.t === "msg")).topic).toBe("tenants.acme.x");
    await settle(watch);
    expect(watch.frames.filter((f) => f.t === "msg")).toEqual([]);
  });

  test("req frames need a request grant; the handler is never called without one", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth() });
    await using _ = server;
    const calls: string[] = [];
    server.handle("echo", (data) => (calls.push("echo"), data));
    server.handle("admin.reset", () => (calls.push("admin.reset"), "reset!"));
    server.handle("admin.stats", () => (calls.push("admin.stats"), "stats"));
    await using c = await as(server, { sub: "carol", tg: { request: ["echo"] } });
    expect(await call(c, { t: "req", method: "echo", data: { x: 1 } })).toMatchObject({ t: "res", data: { x: 1 } });
    expect(await call(c, { t: "req", method: "admin.reset" })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expectAudit(logs, "carol", "request", "admin.reset");
    await using ops = await as(server, { sub: "ops", tg: { request: ["admin.*"] } });
    expect(await call(ops, { t: "req", method: "admin.stats" })).toMatchObject({ t: "res", data: "stats" });
    expect(await call(ops, { t: "req", method: "echo" })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    // No request grant at all: even a method with no handler is FORBIDDEN, not NO_HANDLER (no method probing).
    await using none = await as(server, { sub: "dave", tg: { subscribe: [">"] } });
    expect(await call(none, { t: "req", method: "nope" })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expect(calls).toEqual(["echo", "admin.stats"]);
  });

  test("command and will need a publish grant on the target", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth() });
    await using _ = server;
    await using c = await as(server, { sub: "erin", tg: { publish: ["status.erin"] } });
    expect(await call(c, { t: "command", device: "pico-9", name: "reboot" })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expectAudit(logs, "erin", "command", "devices.pico-9.commands");
    expect(await call(c, { t: "hello", client: "api", will: { topic: "status.other", data: "gone" } })).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
    expectAudit(logs, "erin", "set a will on", "status.other");
    expect(await call(c, { t: "hello", client: "api", will: { topic: "status.erin", data: "gone" } })).toMatchObject({ t: "ack" });
    // The refused command was never queued: a device coming online gets nothing.
    await using dev = await as(server, { sub: "pico-9", tg: { client: "device" } });
    await settle(dev);
    expect(dev.frames.filter((f) => f.t === "command")).toEqual([]);
    expect(server.devices.counters.commandsSent).toBe(0);
  });

  test("counters: every refusal is counted in stats().security.forbidden", async () => {
    const { server, logs } = await startLoggedServer({ auth: hsAuth() });
    await using _ = server;
    await using c = await as(server, { sub: "frank", tg: {} });
    for (let i = 0; i < 3; i++) await call(c, { t: "sub", topic: `x.${i}` });
    expect(server.stats().security!.forbidden).toBe(3);
    expect(logs.find({ event: "forbidden", who: "frank" }).length).toBe(3);
  });
});
