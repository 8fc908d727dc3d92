/**
 * fallback: a WebSocket that was open is cut, and a proxy then refuses only
 * WebSocket upgrades while plain HTTP still passes (issue 15, the seed of
 * 003's own test). The client falls back to SSE + HTTP after
 * `fallbackAfterMs`, keeps every subscription (each publication exactly
 * once, in order), keeps probing the WebSocket, and switches back once
 * upgrades pass again. Real server, real TCP proxy on loopback.
 */
import { describe, expect, test } from "bun:test";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { collector, eventually, startClient } from "./support.ts";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const encoding of ["json", "msgpack"] as const) {
  describe(`fallback after a cut over ${encoding}`, () => {
    test("issue 15: fallback: a cut WebSocket moves to SSE + HTTP without losing a publication, and back once upgrades pass", async () => {
      await using server = await startServer({ policies: [{ match: "cut.>", historySize: 10_000 }] });
      await using proxy = await startTcpProxy(server.port);
      const topic = uniqueTopic("cut");
      await using w = startClient(proxy.url, { encoding, fallbackAfterMs: 200, reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
      const got = collector<number>();
      await w.client.subscribe<number>(topic, got.handler).ready();
      expect(w.client.mode).toBe("websocket");
      let n = 0;
      const publish = (k: number) => {
        for (let i = 0; i < k; i++) server.publish(topic, ++n);
      };

      publish(50);
      await got.count(50);
      proxy.refuseUpgrades(true);
      const toSse = w.untilMode("sse");
      proxy.cutWebSockets();
      publish(50); // while nothing is connected: recovered from history on the stream
      await toSse;
      await w.until("connected");
      await got.count(100);
      publish(50); // live over SSE
      await got.count(150);
      // Publishing from the client goes over HTTP meanwhile.
      const seq = await w.client.publish(topic, ++n);
      expect(seq).toBe(n);
      await got.count(n);
      expect(w.client.mode).toBe("sse");
      expect(proxy.refused).toBeGreaterThan(0);
      expect(proxy.passed("/sse")).toBe(1);
      expect(proxy.passed("/api/publish")).toBe(1);

      // Still probing while on SSE: a refused upgrade after the switch.
      const refusedAtSwitch = proxy.refused;
      await eventually(() => proxy.refused > refusedAtSwitch, "a WebSocket probe while on SSE");
      const back = w.untilMode("websocket");
      proxy.refuseUpgrades(false);
      await back;
      await w.until("connected");
      publish(50); // live over the WebSocket again
      await got.count(n);

      expect(got.got.map((m) => m.data)).toEqual(range(1, n));
      expect(got.got.map((m) => m.meta.seq)).toEqual(range(1, n));
      expect(w.modes).toEqual(["sse", "websocket"]);
      expect(w.gaps).toEqual([]);
      expect(w.errors).toEqual([]);
      expect(w.client.stats().mode).toBe("websocket");
      expect(proxy.websockets).toBe(1);
      // The SSE stream was given up for the WebSocket.
      await eventually(() => server.stats().connections === 1, "one connection left on the server");
    });
  });
}
