/**
 * What the uWebSockets.js transport must do beyond the shared conformance
 * suite, because uWS's lifetimes differ from Bun's: message buffers neutered
 * after the callback, request bodies streamed in (and capped), responses
 * streamed out, requests aborted by the client. Runs under Node (bundled by
 * uws.test.ts, `bun:test` shimmed onto node:test).
 */
import { describe, expect, test } from "bun:test";
import net from "node:net";
import { uwsTransport } from "../../../src/adapter/uws/transport.ts";
import { readBody } from "../../../src/http/body.ts";
import type { ServerSocket, TransportHost, UpgradeInfo } from "../../../src/core/transport.ts";

const OPTS = { host: "127.0.0.1", port: 0, maxFrameBytes: 1024, backpressureLimit: 1 << 20, idleTimeoutSec: 120, sendPings: true, perMessageDeflate: false };

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A host that keeps what it is given as is, and answers HTTP with `handler`. */
class KeepingHost implements TransportHost<{ socket?: ServerSocket }> {
  readonly wsPath = "/ws";
  upgradePaths: string[] = [];
  pongs = 0;
  opened: ServerSocket[] = [];
  kept: (Uint8Array | string)[] = [];
  upgrades: UpgradeInfo[] = [];
  handler: (req: Request) => Response | Promise<Response> = () => new Response("ok");
  upgrade(info: UpgradeInfo) {
    this.upgrades.push(info);
    return { state: {} };
  }
  onOpen(socket: ServerSocket, s: { socket?: ServerSocket }) {
    s.socket = socket;
    this.opened.push(socket);
  }
  onPong() {
    this.pongs++;
  }
  onMessage(_s: unknown, data: Uint8Array | string) {
    this.kept.push(data); // no copy, on purpose
  }
  onDrain() {}
  onClose() {}
  fetch(req: Request) {
    return this.handler(req);
  }
}

async function start(host = new KeepingHost(), opts: Partial<typeof OPTS & { reusePort: boolean }> = {}) {
  const t = uwsTransport();
  const { port } = await t.listen(host, { ...OPTS, ...opts });
  return { t, host, port, [Symbol.asyncDispose]: () => t.stop(true) };
}

describe("UwsTransport (uWS lifetimes)", () => {
  test("binary messages the host keeps stay intact after the callback", async () => {
    await using s = await start();
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
    await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
    ws.send(Uint8Array.of(1, 2, 3, 4));
    ws.send(Uint8Array.of(5, 6));
    await until(() => s.host.kept.length === 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(s.host.kept).toEqual([Uint8Array.of(1, 2, 3, 4), Uint8Array.of(5, 6)]);
    ws.close();
  });

  test("upgrade info carries the query, the peer's address and the headers as sent", async () => {
    await using s = await start();
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws?a=b&c=%20d`);
    await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
    expect(ws.protocol).toBe("");
    const u = s.host.upgrades[0]!;
    expect([u.url.pathname, u.url.searchParams.get("a"), u.url.searchParams.get("c")]).toEqual(["/ws", "b", " d"]);
    expect(u.remoteAddress).toBe("127.0.0.1");
    expect(u.headers.get("sec-websocket-version")).toBe("13");
    expect(u.protocols).toEqual([]);
    ws.close();
  });

  test("a request body streams to the handler intact", async () => {
    await using s = await start();
    s.host.handler = async (req) => new Response(new Uint8Array(await req.arrayBuffer()).length + ":" + req.method + ":" + new URL(req.url).search);
    const body = new Uint8Array(1000).map((_, i) => i & 0xff);
    const res = await fetch(`http://127.0.0.1:${s.port}/p?q=1`, { method: "POST", body });
    expect(await res.text()).toBe("1000:POST:?q=1");
  });

  test("a body past the cap gets 413 PAYLOAD_TOO_LARGE from the transport", async () => {
    await using s = await start();
    s.host.handler = async (req) => new Response(String((await req.arrayBuffer()).byteLength));
    const res = await fetch(`http://127.0.0.1:${s.port}/p`, { method: "POST", body: new Uint8Array(64 * 1024) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  test("a streamed response sends its head and first chunk before the stream ends", async () => {
    await using s = await start();
    let push!: (t: string) => void;
    let end!: () => void;
    s.host.handler = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode(": hello\n\n"));
            push = (t) => c.enqueue(new TextEncoder().encode(t));
            end = () => c.close();
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    const res = await fetch(`http://127.0.0.1:${s.port}/sse`);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    expect(dec.decode((await reader.read()).value)).toBe(": hello\n\n");
    push("data: 1\n\n");
    expect(dec.decode((await reader.read()).value)).toBe("data: 1\n\n");
    end();
    expect((await reader.read()).done).toBe(true);
  });

  test("a client that goes away aborts the request and cancels the response stream", async () => {
    await using s = await start();
    let aborted = false;
    let cancelled = false;
    s.host.handler = (req) => {
      req.signal.addEventListener("abort", () => (aborted = true));
      return new Response(new ReadableStream({ start: (c) => c.enqueue(Uint8Array.of(58, 10)), cancel: () => void (cancelled = true) }));
    };
    const sock = net.connect(s.port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    sock.write("GET /sse HTTP/1.1\r\nhost: x\r\n\r\n");
    await new Promise((r) => sock.once("data", r));
    sock.destroy();
    await until(() => aborted && cancelled);
  });

  test("ping() sends a WebSocket ping; the peer's pong reaches onPong", async () => {
    await using s = await start();
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
    await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
    await until(() => s.host.opened.length === 1);
    expect(s.host.pongs).toBe(0);
    s.host.opened[0]!.ping!();
    await until(() => s.host.pongs === 1);
    ws.close();
  });

  test("upgradePaths take upgrades like wsPath; the host sees which path was asked", async () => {
    const host = new KeepingHost();
    host.upgradePaths = ["/legacy/v1"];
    await using s = await start(host);
    for (const path of ["/legacy/v1", "/ws"]) {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`);
      await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
      ws.close();
    }
    expect(s.host.upgrades.map((u) => u.url.pathname)).toEqual(["/legacy/v1", "/ws"]);
    // Any other path is plain HTTP, the host's to answer.
    s.host.handler = (req) => new Response(new URL(req.url).pathname, { status: 404 });
    const other = new WebSocket(`ws://127.0.0.1:${s.port}/other`);
    await new Promise((r) => ((other.onerror = r), (other.onopen = r)));
    expect(other.readyState).not.toBe(WebSocket.OPEN);
    expect(s.host.upgrades.length).toBe(2);
  });

  test("the port is exclusive unless reusePort is asked for", async () => {
    await using a = await start();
    const e = await uwsTransport().listen(new KeepingHost(), { ...OPTS, port: a.port }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toContain(`could not listen on 127.0.0.1:${a.port}`);
    // Shared: a second server on the same (fixed) port starts.
    const fixed = 20000 + (process.pid % 20000);
    await using b = await start(new KeepingHost(), { port: fixed, reusePort: true });
    await using c = await start(new KeepingHost(), { port: fixed, reusePort: true });
    expect([b.port, c.port]).toEqual([fixed, fixed]);
  });

  test("a handler that refuses a body at the cap answers while the client is still sending, on a kept connection", async () => {
    await using s = await start();
    s.host.handler = async (req) => {
      const b = await readBody(req, OPTS.maxFrameBytes);
      return b instanceof Response ? b : new Response(String(b.byteLength));
    };
    const sock = net.connect(s.port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    let got = "";
    sock.on("data", (d: Buffer) => (got += d.toString("latin1")));
    sock.write("POST /p HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n");
    const chunk = Buffer.concat([Buffer.from("4000\r\n"), Buffer.alloc(0x4000, 7), Buffer.from("\r\n")]);
    let sent = 0;
    // Up to 100 MB, stopping as soon as the answer arrives.
    while (!got.includes("\r\n\r\n") && sent < 100 * 1024 * 1024) {
      if (!sock.write(chunk)) await new Promise((r) => sock.once("drain", r));
      sent += 0x4000;
    }
    await until(() => got.includes("PAYLOAD_TOO_LARGE"));
    expect(got.startsWith("HTTP/1.1 413")).toBe(true);
    expect(sent).toBeLessThan(100 * 1024 * 1024);
    // The client finishes its body; the connection is still open for the next request.
    sock.write("0\r\n\r\n");
    got = "";
    sock.write("POST /p HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc");
    await until(() => got.includes("\r\n\r\n3"));
    expect(got.startsWith("HTTP/1.1 200")).toBe(true);
    sock.destroy();
  });
});
