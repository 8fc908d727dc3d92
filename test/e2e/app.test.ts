/**
 * End to end on both runtimes, for what the CLI cannot set up: a fixture
 * application server (test/e2e/fixtures/echo-server.ts) on `tickgate/bun`
 * or `tickgate/node` with a request handler and a legacy protocol; plus the
 * CLI's liveness and request-body cap seen from raw TCP peers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { unpackr } from "../../src/protocol/codec.ts";
import { CloseCode } from "../../src/protocol/codes.ts";
import { connect, subscribe } from "../helpers/client.ts";
import { rawConnect } from "../helpers/raw-ws.ts";
import { ALL_TG, hs256 } from "../helpers/tokens.ts";
import { legacyConnect } from "../legacy/legacy-client.ts";
import { RUNTIMES, startFixture, startServer, type E2eServer } from "./start-server.ts";

let n = 0;

for (const runtime of RUNTIMES) {
  describe(`e2e application server (${runtime})`, () => {
    let s: E2eServer;
    beforeAll(async () => {
      s = await startFixture(runtime, "echo-server");
    });
    afterAll(async () => {
      await s?.[Symbol.asyncDispose]();
    });

    for (const encoding of ["msgpack", "json"] as const) {
      test(`${encoding}: req reaches the handler and res comes back; a device's log frame is published`, async () => {
        const token = await hs256({ tg: ALL_TG });
        await using c = await connect(`${s.wsUrl}?token=${token}`, { encoding });
        c.send({ t: "req", id: 1, method: "echo", data: { a: [1, "é"] } });
        expect(await c.next((f) => f.id === 1)).toMatchObject({ t: "res", id: 1, data: { echoed: { a: [1, "é"] }, runtime } });
        c.send({ t: "req", id: 2, method: "nope" });
        expect(await c.next((f) => f.id === 2)).toMatchObject({ t: "error", code: "NO_HANDLER" });
        const device = `log-${runtime}-${++n}`;
        await subscribe(c, `devices.${device}.log`);
        await using dev = await connect(`${s.wsUrl}?token=${await hs256({ sub: device, tg: ALL_TG })}`, { encoding });
        dev.send({ t: "hello", id: 1, client: "device", device });
        expect((await dev.next((f) => f.id === 1)).t).toBe("ack");
        dev.send({ t: "log", id: 2, level: "warn", message: "battery low" });
        expect((await c.next((f) => f.t === "msg" && f.topic === `devices.${device}.log`)).data).toMatchObject({ level: "warn", message: "battery low" });
      });
    }

    test("a legacy protocol on its own path: the Pico firmware's connect, log and ping in the seed's frames", async () => {
      const device = `pico-${runtime}-${++n}`;
      await using op = await connect(`${s.wsUrl}?token=${await hs256({ tg: ALL_TG })}`, { encoding: "json" });
      await subscribe(op, `devices.${device}.>`);
      const token = await hs256({ sub: device, tg: { client: "device", publish: ["devices.{sub}.>"] } });
      await using pico = await legacyConnect(`${s.wsUrl.replace(/\/ws$/, "")}/ws/pico`, { authorization: `Bearer ${token}` });
      pico.send(JSON.stringify({ type: "connect", device: "pico_device", version: "1.0.0" }));
      expect(JSON.parse(await pico.next())).toMatchObject({ type: "connection_ack", status: "success" });
      pico.send(JSON.stringify({ type: "log", message: "hi", level: "info" }));
      expect((await op.next((f) => f.t === "msg" && f.topic === `devices.${device}.log`)).data).toMatchObject({ message: "hi" });
      pico.send(JSON.stringify({ type: "ping" }));
      expect(await pico.next()).toBe(JSON.stringify({ type: "pong" }));
    });
  });

  describe(`e2e CLI limits (${runtime})`, () => {
    let s: E2eServer;
    beforeAll(async () => {
      s = await startServer(runtime, { idleTimeoutSec: 1 });
    });
    afterAll(async () => {
      await s?.[Symbol.asyncDispose]();
    });

    test("a peer that never answers pings is closed with 4009 (PEER_TIMEOUT)", async () => {
      const raw = await rawConnect(s.port);
      let acked!: () => void;
      const ack = new Promise<void>((r) => (acked = r));
      raw.resume((p) => {
        const f = unpackr.unpack(p) as { t: string; id?: number };
        if (f.t === "ack" && f.id === 1) acked();
      });
      raw.sendFrame({ t: "sub", id: 1, topic: `live.${runtime}` });
      await ack;
      // From here on it sends nothing and answers no ping, but keeps its socket open.
      await raw.closed;
      expect(raw.closeCode).toBe(CloseCode.PEER_TIMEOUT);
    });

    test("a 100 MB chunked upload to /api/publish gets its 413 before the client finishes, on a connection kept open", async () => {
      const sock = net.connect(s.port, "127.0.0.1");
      await new Promise((r) => sock.once("connect", r));
      let got = "";
      sock.on("data", (d: Buffer) => (got += d.toString("latin1")));
      sock.write("POST /api/publish HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n");
      const chunk = Buffer.concat([Buffer.from("10000\r\n"), Buffer.alloc(0x10000, 0x20), Buffer.from("\r\n")]);
      const total = 100 * 1024 * 1024;
      let sent = 0;
      while (!got.includes("\r\n\r\n") && sent < total) {
        if (!sock.write(chunk)) await new Promise((r) => sock.once("drain", r));
        sent += 0x10000;
      }
      expect(sent).toBeLessThan(total);
      const answered = (text: string) => new Promise<void>((r) => (got.includes(text) ? r() : sock.on("data", () => got.includes(text) && r())));
      await answered("PAYLOAD_TOO_LARGE");
      expect(got.startsWith("HTTP/1.1 413")).toBe(true);
      // The client ends its body; the same connection answers the next request.
      sock.write("0\r\n\r\n");
      got = "";
      sock.write("GET /health HTTP/1.1\r\nhost: x\r\n\r\n");
      await answered('{"status":"ok"}');
      expect(got.startsWith("HTTP/1.1 200")).toBe(true);
      sock.destroy();
    });
  });
}
