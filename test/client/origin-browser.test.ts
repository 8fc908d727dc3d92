/**
 * Issue 11, item 5, in a real browser: a page on one loopback origin
 * (http://127.0.0.2:<port>) connects to a server on 127.0.0.1 that allows
 * only another origin. The page sees ORIGIN_NOT_ALLOWED and stops, instead
 * of reconnecting silently; the dashboard says so. Debian's Chromium via
 * playwright-core; without /usr/bin/chromium the cases skip.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { scriptRoute } from "../../src/adapter/bun/index.ts";
import { DASHBOARD_ENTRY } from "../../src/demo/index.ts";
import { dashboardPage } from "../../src/demo/page.ts";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`test/client/origin-browser: ${CHROMIUM} is missing, so the browser cases are skipped (apt-get install -y chromium)`);
const WAIT = { timeout: 30_000 };

/** The page's own origin: a second loopback address, so it is not the server's. */
function pageHost(tickgate: TestServer) {
  const sdk = scriptRoute(join(import.meta.dir, "origin-page.ts"));
  const dashboard = scriptRoute(DASHBOARD_ENTRY);
  // The dashboard reads its WebSocket address from this meta tag; an absolute URL points it at the other server.
  const board = dashboardPage(tickgate.wsUrl);
  return Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/sdk.html") return new Response(`<!doctype html><title>origin</title><body><script type="module" src="/sdk.js"></script></body>`, { headers: { "content-type": "text/html" } });
      if (path === "/sdk.js") return sdk();
      if (path === "/") return new Response(board, { headers: { "content-type": "text/html" } });
      if (path === "/dashboard.js") return dashboard();
      return new Response("not here", { status: 404 });
    },
  });
}

describe.skipIf(!HAVE_CHROMIUM)("a page on a refused origin, in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  }, 20_000);
  afterAll(() => browser?.close());

  async function open(url: string): Promise<{ page: Page; sockets: string[]; sse: string[]; close(): Promise<void> }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const sockets: string[] = [];
    const sse: string[] = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    page.on("request", (r) => r.url().includes("/sse") && sse.push(r.url()));
    await page.goto(url);
    return { page, sockets, sse, close: () => context.close() };
  }

  test("the SDK reports ORIGIN_NOT_ALLOWED, ends disconnected and does not reconnect or fall back", async () => {
    await using server = await startServer({ limits: { allowedOrigins: ["http://127.0.0.3:1"] } });
    const host = pageHost(server);
    try {
      const o = await open(`http://127.0.0.2:${host.port}/sdk.html?ws=${encodeURIComponent(server.wsUrl)}`);
      await o.page.waitForFunction(() => document.body.dataset.error !== undefined, null, WAIT);
      const origin = `http://127.0.0.2:${host.port}`;
      // Proving an absence takes a wait: forty retry delays' worth; a busy machine only makes it weaker.
      await Bun.sleep(200);
      const seen = await o.page.evaluate(() => (window as unknown as { seen: unknown }).seen);
      expect(seen).toEqual({
        states: ["connecting", "disconnected"],
        errors: [{ code: ErrorCode.ORIGIN_NOT_ALLOWED, message: expect.stringContaining(`origin '${origin}' is not allowed`) }],
        retries: 0,
        modes: [],
      });
      expect({ sockets: o.sockets.length, sse: o.sse, refused: server.stats().security!.refusedOrigin, connections: server.stats().connections }).toEqual({ sockets: 1, sse: [], refused: 1, connections: 0 });
      await o.close();
    } finally {
      host.stop(true);
    }
  }, 60_000);

  test("the dashboard says the origin is not allowed instead of reconnecting", async () => {
    await using server = await startServer({ limits: { allowedOrigins: ["http://127.0.0.3:1"] } });
    const host = pageHost(server);
    try {
      const o = await open(`http://127.0.0.2:${host.port}/`);
      await o.page.waitForFunction(() => document.getElementById("state")?.textContent === "refused · origin not allowed", null, WAIT);
      expect(await o.page.getAttribute("#dot", "class")).toBe("dot refused");
      const notice = await o.page.textContent("#notice");
      expect(notice).toContain(`this page's origin (http://127.0.0.2:${host.port})`);
      expect(notice).toContain("limits.allowedOrigins");
      expect(notice).toContain(ErrorCode.ORIGIN_NOT_ALLOWED);
      expect(await o.page.title()).toBe("tickgate — origin not allowed");
      expect(server.stats().security!.refusedOrigin).toBe(1);
      await o.close();
    } finally {
      host.stop(true);
    }
  }, 60_000);
});
