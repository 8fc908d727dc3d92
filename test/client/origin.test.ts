/**
 * Issue 11, item 5, in the SDK: a connection the server closes with 4406
 * (ORIGIN_NOT_ALLOWED) is final. The client reports the error once, goes
 * `disconnected`, does not reconnect and does not fall back to SSE. The
 * browser's Origin is injected through Bun's WebSocket constructor, which
 * takes headers; the server counts every refused attempt.
 */
import { describe, expect, test } from "bun:test";
import type { WebSocketConstructor } from "../../src/client/index.ts";
import { CloseCode, ErrorCode } from "../../src/protocol/codes.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { startClient } from "./support.ts";

const ALLOWED = "https://app.example.com";
const FOREIGN = "https://evil.example.com";

/** Bun's WebSocket sending `origin`, as a page on that origin would. */
function withOrigin(origin: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, { protocols, headers: { Origin: origin } } as unknown as string[]);
    }
  } as unknown as WebSocketConstructor;
}

describe("client refused for its origin", () => {
  test("reports ORIGIN_NOT_ALLOWED once, ends disconnected, never retries nor falls back to SSE", async () => {
    await using server = await startServer({ limits: { allowedOrigins: [ALLOWED] } });
    const opened: string[] = [];
    server.on("open", (i) => opened.push(i.session));
    // Retries, were there any, would come within milliseconds; fallback is on (the default).
    await using w = startClient(server.wsUrl, { WebSocket: withOrigin(FOREIGN), reconnect: { minDelayMs: 5, maxDelayMs: 5 }, fallbackAfterMs: 0, connectTimeoutMs: 2000 });
    const queued = w.client.publish(uniqueTopic("origin"), 1, { ack: true }).then(
      () => "published",
      (e) => e.code,
    );
    const [err] = await w.errorCount(1);
    expect(err!.code).toBe(ErrorCode.ORIGIN_NOT_ALLOWED);
    expect(err!.message).toContain(`origin '${FOREIGN}' is not allowed`);
    expect(err!.details).toEqual({ closeCode: CloseCode.ORIGIN_NOT_ALLOWED, reason: `origin '${FOREIGN}' is not allowed` });
    expect(await queued).toBe(ErrorCode.ORIGIN_NOT_ALLOWED);
    expect(w.client.state).toBe("disconnected");
    expect(w.states).toEqual(["connecting", "disconnected"]);
    // Proving an absence takes a wait: forty retry delays' worth. A busy machine only makes it weaker, never wrong.
    await Bun.sleep(200);
    expect({ refused: server.stats().security!.refusedOrigin, opened: opened.length, retries: w.retries.length, modes: w.modes, errors: w.errors.length, mode: w.client.mode }).toEqual({
      refused: 1,
      opened: 0,
      retries: 0,
      modes: [],
      errors: 1,
      mode: "websocket",
    });
    // connect() is the way to try again (after the server's list changed, say): one more attempt, refused again.
    w.client.connect();
    await w.errorCount(2);
    expect(server.stats().security!.refusedOrigin).toBe(2);
  });

  test("an allowed origin connects as a browser", async () => {
    await using server = await startServer({ limits: { allowedOrigins: [ALLOWED] } });
    await using w = startClient(server.wsUrl, { WebSocket: withOrigin(ALLOWED) });
    await w.until("connected");
    expect(w.client.welcome?.client).toBe("browser");
    expect(w.errors).toEqual([]);
  });
});
