/**
 * End to end on both runtimes, from one set of tests: the real CLI server
 * (`tickgate serve`) under Bun (Bun.serve) and under Node (uWebSockets.js),
 * driven over real sockets. Frames in both encodings, wildcards, retained
 * values, recovery, devices and commands, the HTTP API, SSE, auth and
 * graceful shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { openSse } from "../helpers/sse.ts";
import { ALL_TG, hs256, hsAuth, tryUpgrade } from "../helpers/tokens.ts";
import { RUNTIMES, startServer, type E2eServer } from "./start-server.ts";

const CONFIG = { policies: [{ match: "ret.>", retain: true, historySize: 100 }] };
let n = 0;
const topic = (p: string) => `${p}.e2e${++n}`;

for (const runtime of RUNTIMES) {
  describe(`e2e (${runtime})`, () => {
    let s: E2eServer;
    beforeAll(async () => {
      s = await startServer(runtime, CONFIG);
    });
    afterAll(async () => {
      await s?.[Symbol.asyncDispose]();
    });

    for (const encoding of ["msgpack", "json"] as const) {
      test(`${encoding}: welcome, sub/ack, pub/ack, msg, unsub, ping/pong, stats, error`, async () => {
        await using a = await connect(s.wsUrl, { encoding });
        await using b = await connect(s.wsUrl, { encoding });
        expect(a.welcome.encoding).toBe(encoding);
        const t = topic("frames");
        await subscribe(b, t);
        a.send({ t: "pub", id: 1, topic: t, key: "k", tags: ["x"], data: { v: 1, s: "é", list: [1, 2] } });
        expect(await a.next((f) => f.id === 1)).toMatchObject({ t: "ack", id: 1, seq: 1 });
        expect(await b.next((f) => f.t === "msg")).toMatchObject({ t: "msg", topic: t, seq: 1, key: "k", tags: ["x"], data: { v: 1, s: "é", list: [1, 2] } });
        b.send({ t: "unsub", id: 2, topic: t });
        expect((await b.next((f) => f.id === 2)).t).toBe("ack");
        b.send({ t: "ping", id: 3 });
        expect(await b.next((f) => f.id === 3)).toMatchObject({ t: "pong", id: 3 });
        b.send({ t: "stats", id: 4 });
        expect((await b.next((f) => f.id === 4)).t).toBe("stats");
        b.send({ t: "sub", id: 5, topic: "bad..topic" });
        expect(await b.next((f) => f.id === 5)).toMatchObject({ t: "error", code: "BAD_TOPIC" });
        // A sentinel after unsub: b must not see it, a (subscribed now) must.
        await subscribe(a, t);
        a.send({ t: "pub", id: 6, topic: t, data: "sentinel" });
        expect((await a.next((f) => f.t === "msg")).data).toBe("sentinel");
        expect(b.frames.filter((f) => f.t === "msg")).toEqual([]);
      });
    }

    test("wildcards: * matches one token, > the rest; a JSON and a msgpack subscriber get the same publication", async () => {
      const base = topic("wild");
      await using one = await connect(s.wsUrl, { encoding: "json" });
      await using rest = await connect(s.wsUrl);
      await subscribe(one, `${base}.*`);
      await subscribe(rest, `${base}.>`);
      await using pub = await connect(s.wsUrl);
      for (const t of [`${base}.a`, `${base}.a.b`, `${base}.c`]) pub.send({ t: "pub", topic: t, data: t });
      expect((await one.collect(2, (f) => f.t === "msg")).map((f) => f.data)).toEqual([`${base}.a`, `${base}.c`]);
      expect((await rest.collect(3, (f) => f.t === "msg")).map((f) => f.data)).toEqual([`${base}.a`, `${base}.a.b`, `${base}.c`]);
    });

    test("retained values reach a late subscriber before live ones; recovery replays what was missed", async () => {
      const t = topic("ret");
      await using pub = await connect(s.wsUrl);
      for (const [i, key] of ["A", "B", "A"].entries()) pub.send({ t: "pub", id: i, topic: t, key, data: i });
      await pub.next((f) => f.id === 2);
      await using late = await connect(s.wsUrl);
      late.send({ t: "sub", id: "s", topic: t });
      const ack = await late.next((f) => f.id === "s");
      expect(ack.backlog).toBe(2);
      expect((await late.collect(2, (f) => f.t === "msg")).map((f) => [f.key, f.data]).sort()).toEqual([["A", 2], ["B", 1]]);

      await using again = await connect(s.wsUrl, { encoding: "json" });
      again.send({ t: "sub", id: "r", topic: t, recover: { epoch: ack.epoch, seq: 1 } });
      expect(await again.next((f) => f.id === "r")).toMatchObject({ t: "ack", recovery: { ok: true, replayed: 2 } });
      expect((await again.collect(2, (f) => f.t === "msg")).map((f) => f.seq)).toEqual([2, 3]);
    });

    test("devices: hello, presence, command to the device, command_ack back as res", async () => {
      await using dev = await connect(s.wsUrl);
      const id = `dev-${runtime}-${++n}`;
      dev.send({ t: "hello", id: 1, client: "device", device: id });
      expect((await dev.next((f) => f.id === 1)).t).toBe("ack");
      await using ops = await connect(s.wsUrl, { encoding: "json" });
      ops.send({ t: "command", id: "c", device: id, name: "reboot", data: { delayS: 1 } });
      const cmd = await dev.next((f) => f.t === "command");
      expect(cmd).toMatchObject({ name: "reboot", data: { delayS: 1 } });
      dev.send({ t: "command_ack", cid: cmd.cid, data: { ok: true } });
      expect(await ops.next((f) => f.id === "c")).toMatchObject({ t: "res", data: { acked: true, data: { ok: true } } });
    });

    test("HTTP API: health, publish (JSON and msgpack bodies), stats, 413 past the frame limit", async () => {
      expect(await (await fetch(`${s.url}/health`)).json()).toEqual({ status: "ok" });
      const t = topic("http");
      await using sub = await connect(s.wsUrl);
      await subscribe(sub, t);
      const res = await fetch(`${s.url}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: t, data: { via: "http" } }) });
      expect(res.status).toBe(200);
      expect((await sub.next((f) => f.t === "msg")).data).toEqual({ via: "http" });
      const stats = (await (await fetch(`${s.url}/stats`)).json()) as { connections: unknown };
      expect(stats.connections).toBeDefined();
      const big = await fetch(`${s.url}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: t, data: "x".repeat(2 * 1024 * 1024) }) });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
    });

    test("SSE: a stream gets publications as they happen", async () => {
      const t = topic("sse");
      await using sse = await openSse(`${s.url}/sse?topic=${t}`);
      await sse.next((e) => e.event === "ack");
      await using pub = await connect(s.wsUrl);
      pub.send({ t: "pub", topic: t, data: { n: 1 } });
      pub.send({ t: "pub", topic: t, data: { n: 2 } });
      const a = await sse.next((e) => e.data?.t === "msg");
      const b = await sse.next((e) => e.data?.t === "msg");
      expect([a.data.data, b.data.data]).toEqual([{ n: 1 }, { n: 2 }]);
    });
  });

  describe(`e2e auth (${runtime})`, () => {
    let s: E2eServer;
    beforeAll(async () => {
      s = await startServer(runtime, { auth: hsAuth() });
    });
    afterAll(async () => {
      await s?.[Symbol.asyncDispose]();
    });

    test("without a token the HTTP API is refused with 401; a socket must send auth first", async () => {
      expect((await fetch(`${s.url}/stats`)).status).toBe(401);
      await using c = await connect(s.wsUrl);
      c.send({ t: "sub", id: 1, topic: "x.y" });
      expect(await c.next((f) => f.id === 1)).toMatchObject({ t: "error", code: "UNAUTHORIZED" });
    });

    test("a valid token connects and publishes; a forged one is refused", async () => {
      const token = await hs256({ tg: ALL_TG });
      await using c = await connect(s.wsUrl, { query: `token=${token}` });
      const t = topic("auth");
      await subscribe(c, t);
      c.send({ t: "pub", topic: t, data: 1 });
      expect((await c.next((f) => f.t === "msg")).data).toBe(1);
      const bad = await tryUpgrade(s.port, { query: `token=${token.slice(0, -4)}AAAA` });
      expect(bad.status).toBe(401);
      bad.close();
    });
  });

  describe(`e2e shutdown (${runtime})`, () => {
    test("SIGTERM closes open sockets with 1001 and the server exits 0", async () => {
      const s = await startServer(runtime);
      let c: TestClient | undefined;
      try {
        c = await connect(s.wsUrl);
        const sse = await openSse(`${s.url}/sse?topic=shutdown.x`);
        await sse.next((e) => e.event === "ack");
        const code = s.terminate();
        expect((await c.closed).code).toBe(1001);
        expect(await code).toBe(0);
        await sse[Symbol.asyncDispose]();
      } finally {
        await s[Symbol.asyncDispose]();
      }
    });

    test("SIGTERM with drainMs: /ready answers 503 while health, publishing and delivery go on; then SSE close, 1001, exit 0", async () => {
      // Long enough for the checks below on a busy machine; nothing waits for it to pass.
      const s = await startServer(runtime, { drainMs: 8000 });
      try {
        await using c = await connect(s.wsUrl);
        const t = topic("drain");
        await subscribe(c, t);
        await using sse = await openSse(`${s.url}/sse?topic=${t}`);
        await sse.next((e) => e.event === "ack");
        expect((await fetch(`${s.url}/ready`)).status).toBe(200);
        const code = s.terminate();
        let ready = 200;
        while (ready === 200) ready = (await fetch(`${s.url}/ready`)).status;
        expect(ready).toBe(503);
        expect((await fetch(`${s.url}/health`)).status).toBe(200);
        const res = await fetch(`${s.url}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: t, data: "during drain" }) });
        expect(res.status).toBe(200);
        expect((await c.next((f) => f.t === "msg")).data).toBe("during drain");
        expect((await sse.next((e) => e.data?.t === "msg")).data.data).toBe("during drain");
        expect((await sse.next((e) => e.event === "close", 25_000)).event).toBe("close");
        expect((await c.closed).code).toBe(1001);
        expect(await code).toBe(0);
      } finally {
        await s[Symbol.asyncDispose]();
      }
    }, 30_000);
  });
}
