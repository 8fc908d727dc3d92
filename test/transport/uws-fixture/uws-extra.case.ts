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
  kept: (Uint8Array | string)[] = [];
  upgrades: UpgradeInfo[] = [];
  handler: (req: Request) => Response | Promise<Response> = () => new Response("ok");
  upgrade(info: UpgradeInfo) {
    this.upgrades.push(info);
    return { state: {} };
  }
  onOpen(socket: ServerSocket, s: { socket?: ServerSocket }) {
    s.socket = socket;
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

async function start(host = new KeepingHost()) {
  const t = uwsTransport();
  const { port } = await t.listen(host, OPTS);
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
});
