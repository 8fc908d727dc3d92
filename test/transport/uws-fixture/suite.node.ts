/**
 * The transport conformance suite, then the uWS-specific cases, against the uWebSockets.js transport,
 * under Node. uws.test.ts bundles this file for Node (with `bun:test`
 * pointed at bun-test-shim.ts) and runs it in a child process.
 */
import http from "node:http";
import { uwsTransport } from "../../../src/adapter/uws/transport.ts";
import { runTransportSuite } from "../../conformance/transport.case.ts";

// Node's fetch refuses to send an `upgrade` header (Bun's does not), and the
// suite sends one to see an upgrade refused. Such requests go through
// node:http instead; everything else is the real fetch.
const realFetch = globalThis.fetch;
globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
  const headers = new Headers(init?.headers);
  if (!headers.has("upgrade")) return realFetch(input, init);
  const url = new URL(String(input));
  return new Promise<Response>((resolve, reject) => {
    const req = http.request(url, { method: init?.method ?? "GET", headers: Object.fromEntries(headers) });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: res.headers as Record<string, string> })));
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      reject(new Error("the upgrade was accepted"));
    });
    req.on("error", reject);
    req.end();
  });
}) as typeof fetch;

runTransportSuite("uWebSockets.js on Node", () => uwsTransport());
await import("./uws-extra.case.ts");
