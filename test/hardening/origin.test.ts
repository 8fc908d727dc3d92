/**
 * Issue 11, item 5: a browser refused by the origin check learns why. The
 * server completes the handshake of an upgrade refused only for its Origin
 * and closes it at once with 4406 ORIGIN_NOT_ALLOWED and a reason naming the
 * origin; nothing else happens on that socket. The SDK takes 4406 as final.
 * Real server, real sockets; the browser case runs in Chromium.
 */
import { describe, expect, test } from "bun:test";
import { TickgateClient } from "../../src/client/index.ts";
import { CloseCode, ErrorCode } from "../../src/protocol/codes.ts";
import { startLoggedServer } from "../helpers/log-capture.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { tryUpgrade } from "../helpers/tokens.ts";
import { watch } from "../client/support.ts";

const ALLOWED = "https://app.example.com";
const FOREIGN = "https://evil.example.com";

interface Seen {
  open: boolean;
  messages: unknown[];
  code: number;
  reason: string;
}

/** A Bun WebSocket with an Origin header, to its close; what it saw on the way. */
function dial(url: string, origin: string | undefined, onOpen?: (ws: WebSocket) => void): Promise<Seen> {
  const seen: Seen = { open: false, messages: [], code: 0, reason: "" };
  const ws = new WebSocket(url, { headers: origin ? { Origin: origin } : {}, protocols: ["tickgate.json"] } as unknown as string[]);
  return new Promise((resolve) => {
    ws.onopen = () => {
      seen.open = true;
      onOpen?.(ws);
    };
    ws.onmessage = (e) => {
      seen.messages.push(JSON.parse(String(e.data)));
      // An admitted connection: its welcome is all this helper waits for.
      if (!onOpen) ws.close(1000);
    };
    ws.onclose = (e) => resolve(Object.assign(seen, { code: e.code, reason: e.reason }));
  });
}

describe("a WebSocket refused for its Origin", () => {
  test("is closed with 4406 and a reason naming the origin; no welcome, no session, no slot", async () => {
    const { server, logs } = await startLoggedServer({ limits: { allowedOrigins: [ALLOWED], maxConnectionsPerIp: 1 } });
    await using _ = server;
    const opened: string[] = [];
    server.on("open", (i) => opened.push(i.session));
    const topic = uniqueTopic("origin");
    // A frame that races in right after the open is not read: no ack, no error, no subscription.
    const refused = await dial(server.wsUrl, FOREIGN, (ws) => ws.send(JSON.stringify({ t: "sub", id: 1, topic })));
    expect(refused).toEqual({ open: true, messages: [], code: CloseCode.ORIGIN_NOT_ALLOWED, reason: `origin '${FOREIGN}' is not allowed` });
    expect(CloseCode.ORIGIN_NOT_ALLOWED).toBe(4406);
    expect(opened).toEqual([]);
    expect(server.stats().connections).toBe(0);
    expect(server.stats().security!.refusedOrigin).toBe(1);
    expect(server.stats().subscriptions).toBe(0);
    expect(logs.find({ event: "limit", code: ErrorCode.ORIGIN_NOT_ALLOWED })[0]!.fields).toMatchObject({ ip: "127.0.0.1", origin: FOREIGN });
    // The refusal held no slot: the one connection this address may have is still free.
    const api = await dial(server.wsUrl, undefined);
    expect([api.open, (api.messages[0] as { t: string }).t, api.code]).toEqual([true, "welcome", 1000]);
  });

  test("an allowed origin and no origin are welcomed as before", async () => {
    await using server = await startServer({ limits: { allowedOrigins: [ALLOWED] } });
    for (const origin of [ALLOWED, `http://127.0.0.1:${server.port}`, undefined]) {
      const r = await dial(server.wsUrl, origin);
      expect({ origin, open: r.open, t: (r.messages[0] as { t?: string } | undefined)?.t, client: (r.messages[0] as { client?: string } | undefined)?.client, code: r.code }).toEqual({
        origin,
        open: true,
        t: "welcome",
        client: origin ? "browser" : "api",
        code: 1000,
      });
    }
  });

  test("the reason is cut to the 123 bytes a close frame may carry, never inside a character", async () => {
    await using server = await startServer({ limits: { allowedOrigins: [ALLOWED] } });
    // Header values are Latin-1: each 'é' is two bytes of UTF-8 in the reason.
    const origin = `https://${"é".repeat(150)}.example`;
    const r = await dial(server.wsUrl, origin);
    expect(r.code).toBe(CloseCode.ORIGIN_NOT_ALLOWED);
    const bytes = new TextEncoder().encode(r.reason).length;
    expect(bytes).toBeLessThanOrEqual(123);
    expect(bytes).toBeGreaterThan(120);
    expect(r.reason.startsWith("origin 'https://é")).toBe(true);
    expect(r.reason).not.toContain("\uFFFD");
  });

  test("over the connection limits, or on a path other than the WebSocket's, the answer stays HTTP", async () => {
    await using server = await startServer({ limits: { allowedOrigins: [ALLOWED], maxConnectionsPerIp: 1 } });
    await using held = await dialOpen(server.wsUrl);
    const full = await tryUpgrade(server.port, { headers: { Origin: FOREIGN } });
    expect([full.status, full.body?.error?.code]).toEqual([403, ErrorCode.ORIGIN_NOT_ALLOWED]);
    const sse = await fetch(`${server.url}/sse?topic=x`, { headers: { Origin: FOREIGN } });
    expect([sse.status, (await sse.json()).error.code]).toEqual([403, ErrorCode.ORIGIN_NOT_ALLOWED]);
    held.ws.close();
  });
});

/** An open, welcomed connection without Origin, held until disposed. */
async function dialOpen(url: string): Promise<{ ws: WebSocket } & AsyncDisposable> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.onmessage = () => resolve();
    ws.onclose = (e) => reject(new Error(`closed ${e.code}`));
  });
  return { ws, [Symbol.asyncDispose]: async () => ws.close() };
}
