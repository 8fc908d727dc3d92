/**
 * Issue 16, item 5: a drain that loses nothing. On close() (and SIGTERM in
 * the CLI) a pending `POST /api/command` used to get zero bytes instead of
 * 503 SHUTTING_DOWN, and one of three open SSE streams never got its
 * `event: close`.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../helpers/client.ts";
import { startServer } from "../helpers/server.ts";
import { startCli } from "../helpers/spawn.ts";
import { openStream, pausedStream, pendingCommand, silentDevice } from "./drain-support.ts";

describe("drain: close() answers everything it holds (issue 16)", () => {
  test("a pending POST /api/command is answered 503 SHUTTING_DOWN, not cut (issue 16)", async () => {
    const server = await startServer({ shutdownGraceMs: 30_000 });
    const d = await silentDevice(server.wsUrl, "drain-1");
    const { answer } = await pendingCommand(server.url, d, "drain-1");
    await server.close();
    const a = await answer;
    expect(a).toMatchObject({ status: 503 });
    expect(JSON.parse((a as { body: string }).body).error.code).toBe("SHUTTING_DOWN");
    expect(await d.closed).toMatchObject({ code: 1001 });
  });

  test("a command pending for a device that went offline is answered 503 SHUTTING_DOWN, not cut (issue 16)", async () => {
    const server = await startServer({ shutdownGraceMs: 30_000 });
    const d = await silentDevice(server.wsUrl, "drain-2");
    const { answer } = await pendingCommand(server.url, d, "drain-2");
    // The device leaves without acking: the command waits in its queue, and no socket is open.
    d.close();
    await d.closed;
    await server.close();
    const a = await answer;
    expect(a).toMatchObject({ status: 503 });
    expect(JSON.parse((a as { body: string }).body).error.code).toBe("SHUTTING_DOWN");
  });

  test("every open SSE stream gets its event: close before it ends (issue 16)", async () => {
    const server = await startServer({ shutdownGraceMs: 30_000 });
    const streams = await Promise.all([1, 2, 3].map((i) => openStream(`${server.url}/sse?topic=drain.sse${i}`)));
    await server.close();
    for (const end of await Promise.all(streams.map((s) => s.ended))) {
      expect(end.cut).toBe(false);
      expect(end.text).toContain("event: close");
      expect(end.text).toContain('"code":1001');
    }
  });
});

describe("drain: nothing written is cut (issue 16)", () => {
  test("an SSE stream whose reader is behind still gets everything up to its event: close (issue 16)", async () => {
    const server = await startServer({ shutdownGraceMs: 30_000 });
    const topic = "drain.behind";
    const reader = await pausedStream(server.port, `/sse?topic=${topic}`);
    const chunk = "x".repeat(16 * 1024);
    // More than the paused socket's kernel buffers take, less than the
    // stream's high-water mark (256 KiB), so nothing is dropped as slow.
    let last = 0;
    for (let i = 0; i < 14; i++) last = server.publish(topic, chunk) as number;
    // The reader reads on while the server shuts down, as a slow client would.
    const closed = server.close();
    const text = await reader.resume();
    await closed;
    // Booleans: the text is hundreds of KB.
    expect(text.includes(`"seq":${last},`)).toBe(true);
    expect(text.includes("event: close")).toBe(true);
    // The chunked response ended properly: its terminator arrived.
    expect(text.endsWith("\r\n0\r\n\r\n")).toBe(true);
  });

  test("a pending POST /api/request is answered 503 SHUTTING_DOWN when the grace period ends (issue 16)", async () => {
    const server = await startServer({ shutdownGraceMs: 200 });
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    server.handle("stuck", () => {
      entered();
      return new Promise(() => {});
    });
    const answer = fetch(`${server.url}/api/request/stuck`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
      (e: unknown) => ({ status: 0, body: String(e) }),
    );
    await inHandler;
    await server.close();
    const a = await answer;
    expect(a.status).toBe(503);
    expect(JSON.parse(a.body).error.code).toBe("SHUTTING_DOWN");
  });
});

describe("drain: SIGTERM in the CLI (issue 16)", () => {
  test("SIGTERM answers the pending command, ends every SSE stream with event: close, closes sockets with 1001, exits 0 (issue 16)", async () => {
    await using cli = await startCli(["--no-demo", "--port", "0", "--log-level", "silent"]);
    const base = `http://127.0.0.1:${cli.port}`;
    const ws = `ws://127.0.0.1:${cli.port}/ws`;
    const d = await silentDevice(ws, "drain-cli");
    const { answer } = await pendingCommand(base, d, "drain-cli");
    const streams = await Promise.all([1, 2, 3].map((i) => openStream(`${base}/sse?topic=drain.cli${i}`)));
    const c = await connect(ws);
    cli.proc.kill("SIGTERM");
    const a = await answer;
    expect(a).toMatchObject({ status: 503 });
    expect(JSON.parse((a as { body: string }).body).error.code).toBe("SHUTTING_DOWN");
    for (const end of await Promise.all(streams.map((s) => s.ended))) {
      expect(end.cut).toBe(false);
      expect(end.text).toContain("event: close");
    }
    expect((await c.closed).code).toBe(1001);
    expect((await d.closed).code).toBe(1001);
    expect(await cli.exited).toBe(0);
  });
});

describe("drain: the drain period (issue 16)", () => {
  test("while draining, /ready answers 503 and everything else keeps serving; close({drainMs: 0}) ends the drain (issue 16)", async () => {
    const server = await startServer({ drainMs: 600_000 });
    const before = await connect(server.wsUrl);
    const closing = server.close();
    const ready = await fetch(`${server.url}/ready`);
    expect([ready.status, await ready.json()]).toEqual([503, { status: "shutting_down" }]);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    // New connections, frames and HTTP publishes are still served.
    await using during = await connect(server.wsUrl);
    during.send({ t: "sub", id: 1, topic: "drain.period" });
    expect((await during.next((f) => f.id === 1)).t).toBe("ack");
    const pub = await fetch(`${server.url}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: "drain.period", data: 1 }) });
    expect(pub.status).toBe(200);
    expect((await during.next((f) => f.t === "msg")).data).toBe(1);
    const stream = await openStream(`${server.url}/sse?topic=drain.period`);
    // A second close() with drainMs 0 cuts the drain short.
    expect(server.close({ drainMs: 0 })).toBe(closing);
    await closing;
    expect((await before.closed).code).toBe(1001);
    expect((await during.closed).code).toBe(1001);
    expect((await stream.ended).text).toContain("event: close");
  });

  test("after the drain, new upgrades, streams and posts are refused 503 SHUTTING_DOWN while pending requests finish (issue 16)", async () => {
    const server = await startServer({ drainMs: 0, shutdownGraceMs: 60_000 });
    let entered!: () => void;
    let release!: (v: unknown) => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    server.handle("slow", () => {
      entered();
      return new Promise((r) => (release = r));
    });
    const c = await connect(server.wsUrl);
    const answer = fetch(`${server.url}/api/request/slow`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }).then(async (r) => [r.status, await r.json()]);
    await inHandler;
    const closing = server.close();
    // The socket's 1001 says the drain period is over; the pending request holds the server open.
    expect((await c.closed).code).toBe(1001);
    const upgrade = await fetch(server.wsUrl.replace("ws:", "http:"), { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect([upgrade.status, (await upgrade.json()).error.code]).toEqual([503, "SHUTTING_DOWN"]);
    const sse = await fetch(`${server.url}/sse?topic=drain.after`);
    expect([sse.status, (await sse.json()).error.code]).toEqual([503, "SHUTTING_DOWN"]);
    const post = await fetch(`${server.url}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: "drain.after", data: 1 }) });
    expect([post.status, (await post.json()).error.code]).toEqual([503, "SHUTTING_DOWN"]);
    expect((await fetch(`${server.url}/health`)).status).toBe(503);
    release({ done: true });
    expect(await answer).toEqual([200, { data: { done: true } }]);
    await closing;
  });
});

describe("drain: the drain period in the CLI (issue 16)", () => {
  test("SIGTERM starts the drain (/ready 503, sockets still served); a second SIGTERM ends it, then exit 0 (issue 16)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tg-drain-"));
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ drainMs: 600_000 }));
    await using cli = await startCli(["--no-demo", "--port", "0", "--log-level", "silent", "--config", config]);
    const base = `http://127.0.0.1:${cli.port}`;
    const ws = `ws://127.0.0.1:${cli.port}/ws`;
    const c = await connect(ws);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    cli.proc.kill("SIGTERM");
    // The first signal is handled asynchronously: wait for readiness to drop, by event (each answer), not by time.
    while ((await fetch(`${base}/ready`)).status !== 503);
    await using late = await connect(ws);
    late.send({ t: "ping", id: "p" });
    expect((await late.next((f) => f.id === "p")).t).toBe("pong");
    cli.proc.kill("SIGTERM");
    expect((await c.closed).code).toBe(1001);
    expect((await late.closed).code).toBe(1001);
    expect(await cli.exited).toBe(0);
  });
});
