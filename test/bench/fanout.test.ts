/**
 * The fan-out benchmark's pieces and a smoke run of the whole thing. Speed
 * is never asserted: this machine is shared and small. What must hold is
 * that the harness measures correctly: every tick arrives once, in order,
 * latencies are ordered, and CPU per delivery is measured for both servers.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WsConn, type FrameSink } from "../../bench/load/ws-conn.ts";
import type { FanoutReport } from "../../bench/lib/fanout.ts";
import { bareFrameTemplate, isPublication, payloadTemplate, readN, readTs, stamp, tailOk, tickgateFrameLength, TOPIC } from "../../bench/lib/tick.ts";
import { encodePublicationMsgpack, unpackr } from "../../src/protocol/codec.ts";

const ROOT = join(import.meta.dir, "../..");

describe("tick layout", () => {
  test.each([62, 100, 200, 1000])("a %i-byte payload decodes as msgpack and its tail reads back", (size) => {
    const p = payloadTemplate(size);
    expect(p.length).toBe(size);
    stamp(p, p.length, 123_456_789, 1_700_000_000_123.25);
    expect(unpackr.unpack(p)).toMatchObject({ sym: "BTC-USD", n: 123_456_789, ts: 1_700_000_000_123.25 });
    expect(readN(p, p.length)).toBe(123_456_789);
    expect(readTs(p, p.length)).toBe(1_700_000_000_123.25);
    expect(tailOk(p, p.length)).toBe(true);
  });

  test("tickgate's frame and the bare frame have the same length and the same tail", () => {
    const p = payloadTemplate(100);
    stamp(p, p.length, 7, 42.5);
    const tg = encodePublicationMsgpack({ topic: TOPIC, seq: 7, epoch: "0123456789ab", ts: Date.now() }, p);
    const { frame, seqAt } = bareFrameTemplate(p, tickgateFrameLength(100));
    expect(frame.length).toBe(tickgateFrameLength(100));
    frame[seqAt + 3] = 7;
    for (const f of [tg, frame]) {
      expect(isPublication(f, 0)).toBe(true);
      expect(readN(f, f.length)).toBe(7);
      expect(readTs(f, f.length)).toBe(42.5);
      expect(unpackr.unpack(f)).toMatchObject({ t: "msg", topic: TOPIC, seq: 7, data: { n: 7, ts: 42.5 } });
    }
  });
});

function serverFrame(opcode: number, body: Uint8Array): Uint8Array {
  const len = body.length;
  const hdr = len < 126 ? [0x80 | opcode, len] : len < 65536 ? [0x80 | opcode, 126, len >> 8, len & 0xff] : [0x80 | opcode, 127, 0, 0, 0, 0, len >>> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff];
  const out = new Uint8Array(hdr.length + len);
  out.set(hdr, 0);
  out.set(body, hdr.length);
  return out;
}

describe("load client frame parser", () => {
  test("frames of 7-, 16- and 64-bit lengths survive any split across reads", () => {
    const bodies = [new Uint8Array(5).fill(1), new Uint8Array(300).fill(2), new Uint8Array(70_000).fill(3), new Uint8Array(125).fill(4), new Uint8Array(126).fill(5)];
    const upgrade = new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    const parts = [upgrade, ...bodies.map((b) => serverFrame(2, b)), serverFrame(9, Uint8Array.of(1, 2))];
    const stream = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      stream.set(p, o);
      o += p.length;
    }
    for (const cut of [1, 2, 3, 7, 64, 1000, 4096, stream.length]) {
      const got: number[][] = [];
      const pings: number[] = [];
      const sink: FrameSink = {
        frame: (_c, buf, start, end) => got.push([end - start, buf[start]!, buf[end - 1]!]),
        control: (_c, op) => pings.push(op),
        failed: (_c, why) => {
          throw new Error(why);
        },
      };
      const c = new WsConn(0, sink);
      // Reads of varying size, the last one short.
      for (let i = 0, k = 0; i < stream.length; k++) {
        const n = Math.min(stream.length - i, cut + (k % 3));
        c.feed(stream.slice(i, i + n));
        i += n;
      }
      expect(c.upgraded).toBe(true);
      expect(got).toEqual(bodies.map((b) => [b.length, b[0]!, b[b.length - 1]!]));
      expect(pings).toEqual([9]);
    }
  });

  test("a refused upgrade is reported, not parsed as frames", () => {
    const why: string[] = [];
    const c = new WsConn(0, { frame: () => {}, control: () => {}, failed: (_c, w) => why.push(w) });
    c.feed(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"));
    expect(why[0]).toContain("400");
  });
});

describe("bench/fanout.ts --quick", () => {
  test(
    "runs both servers and reports sane figures",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "tickgate-bench-"));
      const out = join(dir, "fanout.json");
      try {
        // Two servers keep it short; every peer runs in the suite's smoke test (suite.test.ts).
        const proc = Bun.spawn([process.execPath, join(ROOT, "bench/fanout.ts"), "--quick", "--subs", "50", "--seconds", "1", "--servers", "tickgate,bare", "--json", out], {
          cwd: ROOT,
          stdout: "pipe",
          stderr: "pipe",
        });
        const killer = setTimeout(() => proc.kill("SIGKILL"), 100_000);
        const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
        clearTimeout(killer);
        expect({ code, stderr: stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
        expect(stdout).toContain("server CPU per delivery, tickgate / bare");

        const report = JSON.parse(readFileSync(out, "utf8")) as FanoutReport;
        expect(report.config.rate).toBeGreaterThan(0); // quick runs at a fixed moderate rate
        expect(report.runs.map((r) => r.server).sort()).toEqual(["bare", "tickgate"]);
        for (const r of report.runs) {
          const where = `${r.server}: ${JSON.stringify(r)}`;
          expect(r.deliveries, where).toBeGreaterThan(0);
          expect(r.published, where).toBeGreaterThan(0);
          expect(r.lost, where).toBe(0);
          expect(r.dup, where).toBe(0);
          expect(r.malformed + r.gapFrames + r.errorFrames + r.closedConns, where).toBe(0);
          expect(r.latencyUs.samples, where).toBeGreaterThan(0);
          expect(r.latencyUs.p50, where).toBeLessThanOrEqual(r.latencyUs.p99);
          expect(r.latencyUs.p99, where).toBeLessThanOrEqual(r.latencyUs.p999);
          expect(r.latencyUs.p99, where).toBeLessThanOrEqual(r.latencyUs.max);
          expect(r.serverCpuUsPerDelivery, where).toBeGreaterThan(0);
          expect(r.clientCpuPct, where).toBeGreaterThan(0);
        }
        expect(report.ratios?.cpuPerDelivery).toBeGreaterThan(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});

describe("the client-publisher window's server", () => {
  test("admits every subscriber and the publisher from one address, and no more than it was sized for", async () => {
    const { clientPublisherServerArgs } = await import("../../bench/scenarios/fanout.ts");
    const { Child } = await import("../../bench/lib/child.ts");
    const { rawConnect } = await import("../helpers/raw-ws.ts");
    const args = clientPublisherServerArgs(2, 100);
    const room = Number(args[args.indexOf("--max-conns") + 1]);
    // Two subscribers and the publisher fit, with the scenario's spare.
    expect(room).toBeGreaterThan(2);
    const server = new Child("bench server", [process.execPath, join(ROOT, "bench/servers/tickgate.ts"), ...args]);
    const opened: { destroy(): void }[] = [];
    try {
      const info = await server.next((o) => o.ready === true, 20_000);
      for (let i = 0; i < room; i++) opened.push(await rawConnect(info.port as number));
      // The flag is what admitted them: one more from the same address is refused.
      await expect(rawConnect(info.port as number)).rejects.toThrow(/HTTP\/1.1 (429|503)/);
    } finally {
      for (const c of opened) c.destroy();
      await server.stop();
    }
  }, 60_000);
});
