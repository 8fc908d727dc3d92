/**
 * tickgate nodes as real processes (`tickgate serve --nats URL`) over one
 * nats-server: a node SIGKILLed while a client publishes through it; its
 * clients move to the other node and see every seq exactly once, in order;
 * a node frozen (SIGSTOP) while the other publishes, then resumed; a node
 * SIGKILLed with a device on it: the device is reported offline and its
 * unacked command reaches it on the other node.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Frame } from "../helpers/client.ts";
import { startNats } from "../helpers/nats.ts";
import { uniqueTopic } from "../helpers/server.ts";
import { startCli } from "../helpers/spawn.ts";
import { uniqueCluster } from "./support.ts";

const isMsg = (f: Frame) => f.t === "msg";

describe("tickgate serve --nats", () => {
  test("a node SIGKILLed while publishing: its subscriber recovers on the other node, every seq once, in order", async () => {
    await using nats = await startNats();
    const dir = mkdtempSync(join(tmpdir(), "tickgate-cluster-"));
    try {
      const config = join(dir, "config.json");
      // Node B takes the cluster from its config file, node A from --nats (the name from the same file).
      writeFileSync(config, JSON.stringify({ policies: [{ match: "h.>", historySize: 1000 }], cluster: { nats: nats.urls[0], name: uniqueCluster() } }));
      const args = ["serve", "--port", "0", "--no-demo", "--log-level", "warn", "--config", config];
      await using a = await startCli([...args, "--nats", nats.urls[0]!]);
      await using b = await startCli(args);
      const topic = `h.${uniqueTopic()}`;
      const sub = await connect(`ws://127.0.0.1:${a.port}/ws`);
      sub.send({ t: "sub", id: "s", topic });
      const ack = await sub.next((f) => f.id === "s");
      const epoch = ack.epoch as string;
      const pub = await connect(`ws://127.0.0.1:${a.port}/ws`);
      const acked: number[] = [];
      // Publish until 20 are acknowledged, then kill A with more in flight.
      for (let i = 1; acked.length < 20; i++) {
        pub.send({ t: "pub", id: i, topic, data: i });
        const f = await pub.next((x) => x.id === i);
        if (f.t === "ack") acked.push(f.seq);
      }
      for (let i = 21; i <= 30; i++) pub.send({ t: "pub", id: i, topic, data: i });
      a.proc.kill("SIGKILL");
      await a.exited;
      await sub.closed;
      const seen = sub.frames.filter(isMsg).map((f) => f.seq as number);
      const last = seen.at(-1) ?? 0;

      // The client reconnects to B, recovering from the last seq it saw.
      await using again = await connect(`ws://127.0.0.1:${b.port}/ws`);
      again.send({ t: "sub", id: "r", topic, recover: { epoch, seq: last } });
      const r = await again.next((f) => f.id === "r");
      expect(r).toMatchObject({ t: "ack", epoch, recovery: { ok: true } });
      const rest = await again.collect(r.seq - last, isMsg);
      // One more from B proves nothing else was queued and the numbering goes on.
      const b1 = await connect(`ws://127.0.0.1:${b.port}/ws`);
      b1.send({ t: "pub", id: "after", topic, data: "after" });
      expect(await b1.next((f) => f.id === "after")).toMatchObject({ t: "ack", seq: r.seq + 1 });
      const tail = await again.next(isMsg);
      const all = [...seen, ...rest.map((f) => f.seq as number), tail.seq as number];
      expect(all).toEqual(Array.from({ length: r.seq + 1 }, (_, i) => i + 1));
      for (const s of acked) expect(all).toContain(s);
      b1.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("a node frozen (SIGSTOP) and resumed: no duplicate numbering, its clients see every seq once, in order", async () => {
    await using nats = await startNats();
    const dir = mkdtempSync(join(tmpdir(), "tickgate-cluster-"));
    try {
      const config = join(dir, "config.json");
      writeFileSync(config, JSON.stringify({ policies: [{ match: "h.>", historySize: 1000 }], cluster: { nats: nats.urls[0], name: uniqueCluster() } }));
      const args = ["serve", "--port", "0", "--no-demo", "--log-level", "warn", "--config", config];
      await using a = await startCli(args);
      await using b = await startCli(args);
      const topic = `h.${uniqueTopic()}`;
      await using onA = await connect(`ws://127.0.0.1:${a.port}/ws`);
      onA.send({ t: "sub", id: "s", topic });
      await onA.next((f) => f.id === "s");
      await using onB = await connect(`ws://127.0.0.1:${b.port}/ws`);
      const pubB = async (i: number) => {
        onB.send({ t: "pub", id: i, topic, data: i });
        return (await onB.next((f) => f.id === i)).seq as number;
      };
      for (let i = 1; i <= 5; i++) expect(await pubB(i)).toBe(i);
      expect((await onA.collect(5, isMsg)).map((f) => f.seq)).toEqual([1, 2, 3, 4, 5]);

      a.proc.kill("SIGSTOP");
      try {
        for (let i = 6; i <= 10; i++) expect(await pubB(i)).toBe(i);
        // Queued in A's socket while it is frozen; A still believes the topic ends at 5.
        onA.send({ t: "pub", id: "frozen", topic, data: "from a" });
      } finally {
        a.proc.kill("SIGCONT");
      }
      // A's stale writer is refused by JetStream and renumbers: 11, not 6.
      expect(await onA.next((f) => f.id === "frozen", 20_000)).toMatchObject({ t: "ack", seq: 11 });
      expect(await pubB(12)).toBe(12);
      const seen = await onA.collect(7, isMsg, 20_000);
      expect(seen.map((f) => f.seq)).toEqual([6, 7, 8, 9, 10, 11, 12]);
      expect(seen[5]!.data).toBe("from a");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("a node SIGKILLed with a device on it: watchers see it offline (node_lost); its unacked command reaches it on the other node", async () => {
    await using nats = await startNats();
    const dir = mkdtempSync(join(tmpdir(), "tickgate-cluster-"));
    try {
      const config = join(dir, "config.json");
      writeFileSync(config, JSON.stringify({ devices: { redeliverMs: 200 }, cluster: { nats: nats.urls[0], name: uniqueCluster(), heartbeatMs: 200 } }));
      const args = ["serve", "--port", "0", "--no-demo", "--log-level", "warn", "--config", config];
      await using a = await startCli(args);
      await using b = await startCli(args);
      const id = `dev-${Math.random().toString(36).slice(2, 8)}`;
      await using watcher = await connect(`ws://127.0.0.1:${b.port}/ws`, { encoding: "json" });
      watcher.send({ t: "sub", id: "w", topic: `devices.${id}.presence` });
      await watcher.next((f) => f.id === "w");
      const dev = await connect(`ws://127.0.0.1:${a.port}/ws`);
      dev.send({ t: "hello", id: "h", client: "device", device: id });
      await dev.next((f) => f.id === "h");
      expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "online" } });
      // Issued on B, taken by A (the device is there), not acked before A dies.
      watcher.send({ t: "command", id: "c", device: id, name: "reboot", data: { now: true } });
      const first = await dev.next((f) => f.t === "command");
      a.proc.kill("SIGKILL");
      await a.exited;
      await dev.closed;
      expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "offline", reason: "node_lost" } });
      await using back = await connect(`ws://127.0.0.1:${b.port}/ws`);
      back.send({ t: "hello", id: "h", client: "device", device: id });
      await back.next((f) => f.id === "h");
      expect(await watcher.next(isMsg)).toMatchObject({ data: { state: "online", session: back.welcome.session } });
      const again = await back.next((f) => f.t === "command");
      expect(again).toMatchObject({ cid: first.cid, name: "reboot", data: { now: true } });
      back.send({ t: "command_ack", id: "k", cid: again.cid, data: "done" });
      expect(await watcher.next((f) => f.id === "c")).toEqual({ t: "res", id: "c", data: { acked: true, data: "done" } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
