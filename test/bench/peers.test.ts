/**
 * The peers tickgate is benchmarked against (bench/lib/peers.ts): their
 * subscribe protocols in the load client, and a short run of each through
 * the real orchestrator at a fixed low rate, where nothing may be lost.
 * Speed is never asserted. A peer that cannot run here (nats-server not
 * installed, Node missing) is skipped with the reason.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FanoutReport } from "../../bench/lib/fanout.ts";
import { protocolFor, type Deliveries } from "../../bench/load/protocols/index.ts";
import { natsProtocol } from "../../bench/load/protocols/nats.ts";
import { WsConn } from "../../bench/load/ws-conn.ts";
import { PEERS } from "../../bench/lib/peers.ts";
import { payloadTemplate, stamp, TOPIC } from "../../bench/lib/tick.ts";

const ROOT = join(import.meta.dir, "../..");
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A protocol over a connection with no socket: what it counts and what it sends back. */
function harness(name: "socketio" | "nats") {
  const got = { n: [] as number[], ts: [] as number[], ready: 0, malformed: 0, errors: [] as string[], sent: [] as string[] };
  const k: Deliveries = {
    deliver: (_c, n) => (got.n.push(n), true),
    sample: (ts) => void got.ts.push(ts),
    ready: (c) => {
      c.ready = true;
      got.ready++;
    },
    malformed: () => void got.malformed++,
    gap: () => {},
    error: (m) => void got.errors.push(m),
    note: (m) => void got.errors.push(m),
  };
  const c = new WsConn(0, { frame: () => {}, control: () => {}, failed: () => {} });
  c.send = (_op, body) => void got.sent.push(dec.decode(body));
  return { got, c, p: protocolFor(name, k) };
}

describe("load client protocols", () => {
  test("nats: MSG, PING and PONG cut across WebSocket frames anywhere", () => {
    const msg = (n: number) => {
      const tick = payloadTemplate(100);
      stamp(tick, tick.length, n, 1_700_000_000_000 + n);
      return [enc.encode(`MSG ${TOPIC} 1 100\r\n`), tick, enc.encode("\r\n")];
    };
    const parts = [enc.encode('INFO {"server_id":"x"}\r\n'), enc.encode("PONG\r\n"), ...msg(1), enc.encode("PING\r\n"), ...msg(2), ...msg(3)];
    const stream = Buffer.concat(parts);
    for (const cut of [1, 2, 5, 23, 64, 118, 1000]) {
      const { got, c, p } = harness("nats");
      for (let i = 0; i < stream.length; i += cut) {
        // A fresh buffer each time, overwritten after the call: the parser must copy what it keeps.
        const chunk = Uint8Array.from(stream.subarray(i, i + cut));
        p.frame(c, chunk, 0, chunk.length, 2);
        chunk.fill(0);
      }
      expect({ cut, ...got }).toEqual({
        cut,
        n: [1, 2, 3],
        ts: [1_700_000_000_001, 1_700_000_000_002, 1_700_000_000_003],
        ready: 1,
        malformed: 0,
        errors: [],
        sent: [`CONNECT {"verbose":false,"pedantic":false,"protocol":1,"echo":false,"name":"tickgate-bench"}\r\nSUB ${TOPIC} 1\r\nPING\r\n`, "PONG\r\n"],
      });
    }
  });

  test("nats: a connection subscribes to the subject it is given, or only connects (ingest's devices)", () => {
    const sent = (subject: string | null) => {
      const { got, c } = harness("nats");
      const p = natsProtocol({ deliver: () => false, sample: () => {}, ready: () => void got.ready++, malformed: () => {}, gap: () => {}, error: () => {}, note: () => {} }, subject);
      const info = enc.encode('INFO {"server_id":"x"}\r\nPONG\r\n');
      p.frame(c, info, 0, info.length, 2);
      return { sent: got.sent, ready: got.ready };
    };
    const connect = `CONNECT {"verbose":false,"pedantic":false,"protocol":1,"echo":false,"name":"tickgate-bench"}\r\n`;
    expect(sent("telemetry.>")).toEqual({ sent: [`${connect}SUB telemetry.> 1\r\nPING\r\n`], ready: 1 });
    expect(sent(null)).toEqual({ sent: [`${connect}PING\r\n`], ready: 1 });
  });

  test("socketio: handshake, ping, and n and µs at fixed offsets from the end", () => {
    const { got, c, p } = harness("socketio");
    const text = (s: string) => {
      const b = enc.encode(s);
      p.frame(c, b, 0, b.length, 1);
    };
    text('0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}');
    text('40{"sid":"b"}');
    text('42["ready"]');
    text("2");
    const tick = (n: number, us: number) => `42["tick","${"x".repeat(132)}${String(n).padStart(10, "0")}${String(us).padStart(16, "0")}"]`;
    expect(tick(1, 1).length).toBe(171);
    text(tick(1, 1_700_000_000_000_123));
    text(tick(4_294_967_295, 1_700_000_000_000_456));
    text('42["tick","nope"]');
    expect(got).toEqual({ n: [1, 4_294_967_295], ts: [1_700_000_000_000.123, 1_700_000_000_000.456], ready: 1, malformed: 1, errors: [], sent: ["40", "3"] });
  });
});

const NEW_PEERS = ["node-ws", "socketio", "nats"] as const;

describe("peers through bench/fanout.ts (20 subscribers, 100 publications/s)", () => {
  for (const name of NEW_PEERS) {
    const why = PEERS[name]!.unavailable();
    if (why) {
      console.warn(`skipping the ${name} peer: ${why}`);
      test.skip(`${name} (unavailable: ${why})`, () => {});
      continue;
    }
    test(
      `${name}: every tick arrives once, latencies ordered, CPU measured`,
      async () => {
        const dir = mkdtempSync(join(tmpdir(), "tickgate-peers-"));
        const out = join(dir, "fanout.json");
        try {
          const args = ["--quick", "--subs", "20", "--rate", "100", "--seconds", "1", "--servers", name, "--json", out];
          const proc = Bun.spawn([process.execPath, join(ROOT, "bench/fanout.ts"), ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
          const killer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
          const [code, , stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
          clearTimeout(killer);
          expect({ code, stderr: stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
          const report = JSON.parse(readFileSync(out, "utf8")) as FanoutReport;
          expect(report.runs.map((r) => r.server)).toEqual([name]);
          const r = report.runs[0]!;
          const where = JSON.stringify(r);
          expect(r.deliveries, where).toBeGreaterThan(0);
          expect(r.published, where).toBeGreaterThan(0);
          expect(r.lost, where).toBe(0);
          expect(r.dup, where).toBe(0);
          expect(r.malformed + r.gapFrames + r.errorFrames + r.closedConns, where).toBe(0);
          expect(r.latencyUs.samples, where).toBeGreaterThan(0);
          expect(r.latencyUs.p50, where).toBeLessThanOrEqual(r.latencyUs.p99);
          expect(r.latencyUs.p99, where).toBeLessThanOrEqual(r.latencyUs.max);
          // 2,000 deliveries in a 1 s window may cost nats-server less than one 10 ms clock tick: ≥ 0, not > 0.
          expect(Number.isFinite(r.serverCpuUsPerDelivery) && r.serverCpuUsPerDelivery >= 0, where).toBe(true);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      90_000,
    );
  }
});
