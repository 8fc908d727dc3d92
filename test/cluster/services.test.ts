/**
 * What nodes share besides topics, with two tickgate nodes on one real
 * nats-server: the online-device set and last wills, device commands queued
 * in JetStream, request handlers on any node, and the cluster view of stats.
 */
import { describe, expect, test } from "bun:test";
import { Kvm } from "@nats-io/kv";
import { connect as natsConnect } from "@nats-io/transport-node";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { TickgateError } from "../../src/core/errors.ts";
import { connect, subscribe, type Frame, type TestClient } from "../helpers/client.ts";
import { startNats } from "../helpers/nats.ts";
import { startNode, uniqueCluster, type TestNode } from "./support.ts";

const isMsg = (f: Frame) => f.t === "msg";
const newId = () => `dev-${Math.random().toString(36).slice(2, 8)}`;

/** Waits for a condition the cluster reaches by messages (heartbeats, the presence watch); bounded. */
async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function device(node: TestNode, id: string, will?: { topic: string; data: unknown }): Promise<TestClient> {
  const d = await connect(node.wsUrl);
  d.send({ t: "hello", id: "h", client: "device", device: id, ...(will ? { will } : {}) });
  expect(await d.next((f) => f.id === "h")).toMatchObject({ t: "ack" });
  return d;
}

describe("cluster services (one nats-server, two nodes)", () => {
  test("the online-device set is cluster-wide; a device dropping on A is offline, with its will, for a watcher on B", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    const id = newId();
    await using watcher = await connect(b.wsUrl);
    await subscribe(watcher, `devices.${id}.presence`);
    await subscribe(watcher, `wills.${id}`);
    const dev = await device(a, id, { topic: `wills.${id}`, data: "gone" });
    expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "online" } });
    await until("B counts A's device", () => b.server.stats().devicesOnline === 1);
    dev.ws.close(4001, "crashing");
    const after = await watcher.collect(2, isMsg);
    expect(after.map((f) => f.topic).sort()).toEqual([`devices.${id}.presence`, `wills.${id}`].sort());
    expect(after.find((f) => f.topic === `wills.${id}`)).toMatchObject({ data: "gone" });
    expect(after.find((f) => f.topic !== `wills.${id}`)).toMatchObject({ data: { state: "offline", reason: "abnormal" } });
    await until("B counts no device", () => b.server.stats().devicesOnline === 0);
  }, 30_000);

  test("a device that reconnected to B is not reported offline by A when A's old connection closes", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    const id = newId();
    const topic = `devices.${id}.presence`;
    await using watcher = await connect(b.wsUrl);
    await subscribe(watcher, topic);
    await subscribe(watcher, `wills.${id}`);
    const old = await device(a, id, { topic: `wills.${id}`, data: "gone" });
    expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "online", session: old.welcome.session } });
    await using fresh = await device(b, id);
    expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "online", session: fresh.welcome.session } });
    await until("A sees B's claim", () => a.bus.cluster.presence.sessionOf(id) === fresh.welcome.session);
    const closed = new Promise<void>((r) => a.server.on("close", () => r()));
    old.ws.close(4001, "crashing");
    await closed;
    await a.bus.cluster.presence.idle();
    // Had A reported the device offline (or run its will), that would come before this, from the same node.
    await a.server.publish(topic, { state: "sentinel" }, { key: id });
    expect(await watcher.next(isMsg)).toMatchObject({ topic, data: { state: "sentinel" } });
    expect(b.server.stats().devicesOnline).toBe(1);
    expect(a.server.stats().devicesOnline).toBe(1);
  }, 30_000);

  test("a command issued on A, for a device that connects to B later, is delivered there and its ack settles A's promise", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    const id = newId();
    const result = a.server.command(id, "reboot", { delay: 1 });
    // Queued while no node has the device.
    await until("queued in the stream", () => a.bus.cluster.commands.stored === 1);
    await using d = await device(b, id);
    const cmd = await d.next((f) => f.t === "command");
    expect(cmd).toMatchObject({ name: "reboot", data: { delay: 1 } });
    d.send({ t: "command_ack", id: "k", cid: cmd.cid, data: { ok: true } });
    expect(await result).toEqual({ ok: true });
  }, 30_000);

  test("a queued command survives the restart of the node that issued it and reaches the device on the other node", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    const a = await startNode(opts);
    await using b = await startNode(opts);
    const id = newId();
    const result = a.server.command(id, "set", { led: "on" }).then(() => "acked", (e: TickgateError) => e.code);
    await until("queued in the stream", () => a.bus.cluster.commands.stored === 1);
    await a[Symbol.asyncDispose]();
    expect(await result).toBe(ErrorCode.SHUTTING_DOWN);
    await using a2 = await startNode(opts);
    await using d = await device(b, id);
    const cmd = await d.next((f) => f.t === "command");
    expect(cmd).toMatchObject({ name: "set", data: { led: "on" } });
    d.send({ t: "command_ack", id: "k", cid: cmd.cid });
    // A command issued after the restart goes the same way and its ack reaches the new node.
    const again = a2.server.command(id, "blink");
    const cmd2 = await d.next((f) => f.t === "command" && f.name === "blink");
    d.send({ t: "command_ack", id: "k2", cid: cmd2.cid, data: 2 });
    expect(await again).toBe(2);
  }, 30_000);

  test("a request is answered by the node with the handler; no handler on any node is NO_HANDLER; a handler's own code passes", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    b.server.handle("quote", (d: { symbol: string }, ctx) => ({ symbol: d.symbol, on: "b", session: ctx.session }));
    b.server.handle("refuse", () => {
      throw new TickgateError("NO_SUCH_RELAY", "relay 9 does not exist");
    });
    // A client of A is told of B's methods once A has B's heartbeat.
    await until("A hears B's methods", () => a.server.stats().cluster?.nodes.some((n) => n.methods.includes("quote")) === true);
    await using c = await connect(a.wsUrl);
    expect(c.welcome.methods).toEqual(expect.arrayContaining(["quote", "refuse"]));
    c.send({ t: "req", id: "q", method: "quote", data: { symbol: "BTC" } });
    expect(await c.next((f) => f.id === "q")).toMatchObject({ t: "res", data: { symbol: "BTC", on: "b", session: c.welcome.session } });
    c.send({ t: "req", id: "n", method: "nowhere" });
    expect(await c.next((f) => f.id === "n")).toMatchObject({ t: "error", code: ErrorCode.NO_HANDLER });
    c.send({ t: "req", id: "r", method: "refuse" });
    expect(await c.next((f) => f.id === "r")).toMatchObject({ t: "error", code: "NO_SUCH_RELAY" });
  }, 30_000);

  test("stats carry a cluster view: every node, its own figures, and the sums", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster() };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    await using c1 = await connect(a.wsUrl);
    await using c2 = await connect(b.wsUrl);
    await using c3 = await connect(b.wsUrl);
    c3.send({ t: "hello", id: "h", client: "mobile" });
    await c3.next((f) => f.id === "h");
    await until("A hears B's figures", () => a.server.stats().cluster?.connections === 3 && a.server.stats().cluster?.sessions.mobile === 1, 15_000);
    // B's view of A is as fresh as A's last heartbeat.
    await until("B hears A's figures", () => b.server.stats().cluster?.connections === 3, 15_000);
    const view = a.server.stats().cluster!;
    expect(view.nodes.map((n) => n.connections).sort()).toEqual([1, 2]);
    const res = await fetch(`${b.server.url}/stats`);
    expect(((await res.json()) as { cluster?: { nodes: unknown[]; connections: number } }).cluster).toMatchObject({ connections: 3 });
  }, 30_000);

  test("a node that falls silent loses its devices: another node reports them offline (node_lost)", async () => {
    await using nats = await startNats();
    const opts = { servers: nats.urls, name: uniqueCluster(), heartbeatMs: 100 };
    await using a = await startNode(opts);
    await using b = await startNode(opts);
    const id = newId();
    await using watcher = await connect(b.wsUrl);
    await subscribe(watcher, `devices.${id}.presence`);
    await using dev = await device(a, id);
    expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "online" } });
    await until("B knows A", () => b.server.stats().cluster?.nodes.length === 2);
    // A is cut off from NATS (its connection closed) while its device's socket stays up.
    await a.bus.cluster.stop();
    await a.bus.close();
    expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "offline", reason: "node_lost" } });
    await until("B counts no device", () => b.server.stats().devicesOnline === 0);
  }, 30_000);
});

describe("cluster services: a node counted lost while it still holds devices", () => {
  test("when another node reports its device lost, the node closes that connection (going away) and the device is claimed afresh on reconnect", async () => {
    await using nats = await startNats();
    const name = uniqueCluster();
    const opts = { servers: nats.urls, name };
    await using a = await startNode(opts);
    const id = newId();
    await using watcher = await connect(a.wsUrl);
    await subscribe(watcher, `devices.${id}.presence`);
    await using dev = await device(a, id);
    expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "online" } });
    await until("the claim is confirmed", () => a.bus.cluster.presence.sessionOf(id) === dev.welcome.session && (a.bus.cluster.presence.revisionOf(id) ?? 0) > 0);
    await a.bus.cluster.presence.idle();
    // What a sweeper on another node does when it counts this node lost: compare-and-delete the key.
    const nc = await natsConnect({ servers: nats.urls });
    try {
      const kv = await new Kvm(nc).open(`tickgate_${name}_presence`);
      const e = await kv.get(id);
      await kv.delete(id, { previousSeq: e!.revision });
    } finally {
      await nc.close();
    }
    expect(await within(dev.closed, 10_000, "the lost device's connection closed")).toMatchObject({ code: 1001 });
    await a.bus.cluster.presence.idle();
    await using again = await device(a, id);
    expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "online", session: again.welcome.session } });
    await until("counted online again", () => a.server.stats().devicesOnline === 1);
  }, 30_000);
});
