/**
 * recovery: the client's connection is cut (a TCP proxy resets both sides,
 * as a network drop would) while the server keeps publishing. With history
 * on, every publication reaches the handler exactly once and in order; when
 * the history cannot cover the outage, or the server restarted, the client
 * says so explicitly.
 */
import { describe, expect, test } from "bun:test";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { collector, eventually, startClient, startProxy } from "./support.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));
const fastReconnect = { reconnect: { minDelayMs: 20, maxDelayMs: 100 } };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const encoding of ["msgpack", "json"] as const) {
  describe(`recovery over ${encoding}`, () => {
    test("recovery: a connection dropped mid-stream loses nothing and repeats nothing (exact and pattern)", async () => {
      await using server = await startServer({ policies: [{ match: "rec.>", historySize: 10_000 }] });
      await using proxy = await startProxy(server.port);
      const root = uniqueTopic("rec");
      const a = `${root}.a`;
      const b = `${root}.b`;
      await using w = startClient(proxy.url, { encoding, ...fastReconnect });
      const exact = collector<number>();
      const pattern = collector<number>();
      await w.client.subscribe<number>(a, exact.handler).ready();
      await w.client.subscribe<number>(`${root}.*`, pattern.handler).ready();

      const N = 1500;
      for (let i = 1; i <= N; i++) {
        server.publish(i % 3 === 0 ? b : a, i);
        if (i === 500) {
          await exact.count(100); // surely mid-stream
          proxy.drop();
        }
        // A burst right after the drop: published while the client cannot be connected.
        if (i % 10 === 0 && (i < 500 || i > 700)) await tick();
      }
      const all = await pattern.count(N, 10_000);
      await exact.count(N - Math.floor(N / 3));
      // Each topic in order; across topics a replay interleaves by timestamp only.
      expect(all.map((m) => m.data).sort((x, y) => x - y)).toEqual(range(1, N));
      expect(all.filter((m) => m.meta.topic === a).map((m) => m.data)).toEqual(range(1, N).filter((i) => i % 3 !== 0));
      expect(all.filter((m) => m.meta.topic === b).map((m) => m.data)).toEqual(range(1, N).filter((i) => i % 3 === 0));
      expect(exact.got.map((m) => m.data)).toEqual(range(1, N).filter((i) => i % 3 !== 0));
      // seq per topic is contiguous: nothing skipped, nothing twice.
      expect(exact.got.map((m) => m.meta.seq)).toEqual(range(1, N - Math.floor(N / 3)));
      expect(all.filter((m) => m.meta.topic === b).map((m) => m.meta.seq)).toEqual(range(1, Math.floor(N / 3)));
      const st = w.client.stats();
      expect(st.reconnects).toBe(1);
      expect(st.recovered).toBeGreaterThan(0);
      expect(st.gaps).toBe(0);
      expect(st.messages).toBe(N);
      expect(w.gaps).toEqual([]);
      expect(w.states).toEqual(["connecting", "connected", "reconnecting", "connected"]);
      expect(proxy.connections).toBe(1);
    });

    test("recovery: outside the history window the client reports reason 'window' and carries on live", async () => {
      await using server = await startServer({ policies: [{ match: "win.>", historySize: 5 }] });
      await using proxy = await startProxy(server.port);
      const root = uniqueTopic("win");
      const topic = `${root}.x`;
      await using w = startClient(proxy.url, { encoding, ...fastReconnect });
      const exact = collector<number>();
      const pattern = collector<number>();
      const gapsSeen: string[] = [];
      await w.client.subscribe<number>(topic, exact.handler, { onGap: (g) => gapsSeen.push(`${g.type}:${g.reason}`) }).ready();
      await w.client.subscribe<number>(`${root}.>`, pattern.handler).ready();
      for (let i = 1; i <= 3; i++) server.publish(topic, i);
      await pattern.count(3);
      await exact.count(3);
      proxy.drop();
      // Published before the client can possibly be back: 20 > historySize.
      for (let i = 4; i <= 23; i++) server.publish(topic, i);
      const gaps = await w.gapCount(2);
      expect(gaps.map((g) => g.type)).toEqual(["recovery-failed", "recovery-failed"]);
      expect(gaps.map((g) => g.reason)).toEqual(["window", "window"]);
      const forExact = gaps.find((g) => g.subscription === topic)!;
      expect(forExact).toMatchObject({ seq: 23, replayed: 0, epoch: exact.got[0]!.meta.epoch });
      expect(gaps.find((g) => g.subscription === `${root}.>`)).toBeDefined();
      expect(gapsSeen).toEqual(["recovery-failed:window"]);
      await w.until("connected");
      server.publish(topic, 24);
      await exact.count(4);
      await pattern.count(4);
      expect(exact.got.map((m) => m.data)).toEqual([1, 2, 3, 24]);
      expect(pattern.got.map((m) => m.data)).toEqual([1, 2, 3, 24]);
      expect(w.client.stats()).toMatchObject({ gaps: 2, reconnects: 1 });
    });

    test("recovery: a server restart on the same port is detected as reason 'epoch'", async () => {
      const first = await startServer({ policies: [{ match: "ep.>", historySize: 100 }] });
      const port = first.port;
      const topic = uniqueTopic("ep");
      await using w = startClient(first.wsUrl, { encoding, ...fastReconnect, fallback: false });
      const c = collector<string>();
      await w.client.subscribe<string>(topic, c.handler).ready();
      first.publish(topic, "old-1");
      first.publish(topic, "old-2");
      await c.count(2);
      const oldEpoch = c.got[0]!.meta.epoch;
      await first.close();
      await w.until("reconnecting");
      await using second = await startServer({ port, policies: [{ match: "ep.>", historySize: 100 }] });
      const [gap] = await w.gapCount(1);
      expect(gap).toMatchObject({ type: "recovery-failed", reason: "epoch", subscription: topic, seq: 0, replayed: 0 });
      expect(gap!.type === "recovery-failed" && gap!.epoch).not.toBe(oldEpoch);
      await w.until("connected");
      second.publish(topic, "new-1");
      await c.count(3);
      // Seq 1 again, in the new epoch: delivered, not mistaken for a repeat.
      expect(c.got.map((m) => [m.data, m.meta.seq])).toEqual([["old-1", 1], ["old-2", 2], ["new-1", 1]]);
      expect(c.got[2]!.meta.epoch).not.toBe(oldEpoch);
      expect(w.client.stats().reconnects).toBe(1);
    });

    test("a drop rejects in-flight requests with CONNECTION_LOST; publishes made while reconnecting go out once back", async () => {
      await using server = await startServer({ requestTimeoutMs: 60_000 });
      server.handle("never", () => new Promise(() => {}));
      await using proxy = await startProxy(server.port);
      const topic = uniqueTopic();
      await using w = startClient(proxy.url, { encoding, reconnect: { minDelayMs: 50, maxDelayMs: 50 } });
      const c = collector<string>();
      await w.client.subscribe<string>(topic, c.handler).ready();
      const inFlight = w.client.request("never", null, { timeoutMs: 60_000 });
      proxy.drop();
      await expect(inFlight).rejects.toMatchObject({ code: "CONNECTION_LOST" });
      expect(w.client.state).toBe("reconnecting");
      const queued = w.client.publish(topic, "sent later");
      expect(await queued).toBe(1);
      expect((await c.count(1)).map((m) => m.data)).toEqual(["sent later"]);
      expect(w.client.stats().reconnects).toBe(1);
    });

    test("gap: a slow reader's dropped publications arrive as a counted gap event", async () => {
      await using server = await startServer({
        slowConsumer: { checkIntervalMs: 10, nativeLimitBytes: 64 * 1024 * 1024 },
        defaultPolicy: { maxPayload: 128 * 1024 },
        policies: [{ match: "slow.>", action: "drop", limitBytes: 256 * 1024 }],
      });
      await using proxy = await startProxy(server.port);
      const topic = uniqueTopic("slow");
      await using w = startClient(proxy.url, { encoding, heartbeatMs: 0 });
      const c = collector<{ n: number }>();
      const onGap: unknown[] = [];
      await w.client.subscribe<{ n: number }>(topic, c.handler, { onGap: (g) => onGap.push(g) }).ready();
      proxy.pauseUpstream();
      const pad = "x".repeat(60_000);
      const lagEvents = server.stats().slowConsumers.lagEvents;
      let n = 0;
      while (server.stats().slowConsumers.lagEvents === lagEvents) {
        if (n > 5000) throw new Error("the server never saw the reader lag");
        server.publish(topic, { n: ++n, pad });
        if (n % 8 === 0) await tick();
      }
      // Lagging now: these go nowhere, and the gap will count them.
      for (let i = 0; i < 20; i++) server.publish(topic, { n: ++n, pad });
      proxy.resumeUpstream();
      const [gap] = await w.gapCount(1, 20_000);
      expect(gap).toMatchObject({ type: "gap", subscription: topic, reason: "dropped" });
      const count = gap!.type === "gap" ? gap!.count : 0;
      expect(count).toBeGreaterThan(0);
      expect(onGap).toEqual([gap]);
      server.publish(topic, { n: ++n, pad: "" });
      await eventually(() => c.got.at(-1)?.data.n === n, "the sentinel publication", 20_000);
      // What arrived plus what the gap counted is everything published.
      expect(c.got.length + count).toBe(n);
      expect(w.client.stats().gaps).toBe(1);
      expect(w.client.stats().reconnects).toBe(0);
    });
  });
}
