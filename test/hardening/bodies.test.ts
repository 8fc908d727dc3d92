/**
 * Issue 16, item 2: request bodies are read as a stream with a hard cap on
 * every route that takes one. A 100 MB chunked upload used to be buffered
 * whole before the size check (server memory rose ~190 MB).
 */
import { describe, expect, test } from "bun:test";
import { connect as tcpConnect, type Socket } from "node:net";
import { startServer } from "../helpers/server.ts";

const MB = 1024 * 1024;
const CHUNK = 64 * 1024;

interface Upload {
  /** The response's status line and headers, as far as they arrived. */
  head: string;
  /** Body bytes the client had handed to the socket when the first response byte arrived. */
  written: number;
  /** Largest RSS sampled while uploading. */
  peakRss: number;
}

/**
 * POSTs `total` bytes over a raw socket, chunked unless `declared` is given,
 * and stops sending as soon as any response byte arrives.
 */
async function upload(port: number, path: string, total: number, declared?: number): Promise<Upload> {
  const sock: Socket = tcpConnect(port, "127.0.0.1");
  await new Promise<void>((r, j) => sock.once("connect", r).once("error", j));
  let head = "";
  let written = -1;
  let sent = 0;
  let peakRss = process.memoryUsage().rss;
  const answered = new Promise<void>((r) => {
    sock.on("data", (d) => {
      if (written < 0) written = sent;
      head += d.toString("latin1");
      if (head.includes("\r\n\r\n")) r();
    });
    sock.once("close", () => r());
  });
  sock.on("error", () => {});
  let done = false;
  void answered.then(() => (done = true));
  const framing = declared === undefined ? "transfer-encoding: chunked" : `content-length: ${declared}`;
  sock.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`);
  const payload = Buffer.alloc(CHUNK, 0x20); // JSON whitespace
  const chunk = declared === undefined ? Buffer.concat([Buffer.from(`${CHUNK.toString(16)}\r\n`), payload, Buffer.from("\r\n")]) : payload;
  while (!done && sent < total) {
    const more = sock.write(chunk);
    sent += CHUNK;
    if (!more) {
      await Promise.race([new Promise((r) => sock.once("drain", r)), answered]);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
  }
  if (!done && declared === undefined) sock.write("0\r\n\r\n");
  await answered;
  if (written < 0) written = sent;
  sock.destroy();
  return { head, written, peakRss };
}

const ROUTES = ["/api/publish", "/api/command", "/api/request/echo"];

describe("request bodies: a stream with a hard cap (issue 16)", () => {
  for (const path of ROUTES) {
    test(`a 100 MB chunked upload to ${path} gets 413 long before it is sent, and memory stays put (issue 16)`, async () => {
      await using server = await startServer();
      server.handle("echo", (d) => d);
      Bun.gc(true);
      const before = process.memoryUsage();
      const r = await upload(server.port, path, 100 * MB);
      expect(r.head).toStartWith("HTTP/1.1 413");
      expect(r.head.toLowerCase()).toContain("payload_too_large");
      // The cap is maxFrameBytes (144 KiB by default); socket buffers add a few MB at most.
      expect(r.written).toBeLessThan(20 * MB);
      Bun.gc(true);
      const after = process.memoryUsage();
      // Generous bounds: a buffered upload raised RSS by ~100-190 MB.
      expect(r.peakRss - before.rss).toBeLessThan(60 * MB);
      expect(after.heapUsed - before.heapUsed).toBeLessThan(30 * MB);
    });
  }

  test("a declared length over the cap is refused before any body byte is sent (issue 16)", async () => {
    await using server = await startServer();
    const r = await upload(server.port, "/api/publish", 0, 100 * MB);
    expect(r.head).toStartWith("HTTP/1.1 413");
    expect(r.written).toBe(0);
  });

  test("a chunked body under the cap, in many chunks, is read whole", async () => {
    await using server = await startServer();
    server.handle("echo", (d) => d);
    const text = "x".repeat(100_000); // under the default cap (144 KiB)
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        const bytes = new TextEncoder().encode(JSON.stringify({ data: text }));
        for (let i = 0; i < bytes.length; i += 10_000) c.enqueue(bytes.slice(i, i + 10_000));
        c.close();
      },
    });
    const res = await fetch(`${server.url}/api/request/echo`, { method: "POST", body, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: string }).data).toBe(text);
  });
});
