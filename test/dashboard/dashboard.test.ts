/**
 * The live dashboard in a real browser: Debian's Chromium driven by
 * playwright-core, against the real CLI server with its demo feeds. Every
 * wait is on a page condition, never a sleep. Without /usr/bin/chromium the
 * browser cases skip (install it: apt-get install -y chromium).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { scriptRoute } from "../../src/adapter/bun/index.ts";
import { DASHBOARD_ENTRY, installDashboard } from "../../src/demo/index.ts";
import { startServer as startBare, type TestServer } from "../helpers/server.ts";
import { ROOT, startCli } from "../helpers/spawn.ts";
import { ALL_TG, hs256, SECRET } from "../helpers/tokens.ts";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`test/dashboard: ${CHROMIUM} is missing, so the browser cases are skipped (apt-get install -y chromium)`);

const SCREENSHOT = join(ROOT, "docs", "dashboard.png");
const SERVE = ["--demo", "--log-level", "warn"];
const WAIT = { timeout: 30_000 };
const BROKEN_ENTRY = join(ROOT, "src", "demo", "dashboard", "no-such-entry.ts");

/** A library server with the dashboard installed, as the CLI does (a library server has none by default). */
async function startServer(entry = DASHBOARD_ENTRY): Promise<TestServer> {
  const server = await startBare();
  installDashboard(server, scriptRoute(entry));
  return server;
}

describe("dashboard routes", () => {
  test("GET / serves the page, /dashboard.js its bundle, built once per process", async () => {
    await using server = await startServer();
    const base = `http://127.0.0.1:${server.port}`;
    const page = await fetch(`${base}/`);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/dashboard.js"');
    expect(html).toContain('<meta name="tickgate-ws-path" content="/ws">');

    const js = await fetch(`${base}/dashboard.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("text/javascript");
    const body = await js.text();
    expect(body).toContain("tickgate-ws-path");
    expect(body).not.toMatch(/^import\s/m); // one self-contained bundle
    expect(await (await fetch(`${base}/dashboard.js`)).text()).toBe(body);
  });

  test("a bundle that cannot be built is a 500 with a JSON error", async () => {
    await using server = await startServer(BROKEN_ENTRY);
    const res = await fetch(`http://127.0.0.1:${server.port}/dashboard.js`);
    expect(res.status).toBe(500);
    const { error } = await res.json();
    expect(error.code).toBe("INTERNAL");
    expect(error.message).toContain("could not be built");
  });
});

describe.skipIf(!HAVE_CHROMIUM)("dashboard in Chromium", () => {
  let browser: Browser;

  beforeAll(async () => {
    // launch() gives the browser a fresh temporary profile (user-data dir) and removes it on close.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 20_000);
  afterAll(() => browser?.close());

  interface Opened {
    page: Page;
    /** Uncaught errors in the page. */
    errors: string[];
    /** WebSocket frames received, by kind: text (JSON) or binary (msgpack). */
    frames: { text: number; binary: number };
    [Symbol.asyncDispose](): Promise<void>;
  }

  async function open(url: string, viewport = { width: 1280, height: 800 }): Promise<Opened> {
    const context: BrowserContext = await browser.newContext({ viewport });
    const page = await context.newPage();
    const errors: string[] = [];
    const frames = { text: 0, binary: 0 };
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("websocket", (ws) => ws.on("framereceived", (f) => (typeof f.payload === "string" ? frames.text++ : frames.binary++)));
    await page.goto(url);
    return { page, errors, frames, [Symbol.asyncDispose]: () => context.close() };
  }

  const connected = (page: Page) =>
    page.waitForFunction(() => document.getElementById("dot")?.classList.contains("connected") && document.getElementById("state")?.textContent === "connected", null, WAIT);

  /** Waits until the symbol's last price is shown, then until it changes. */
  async function priceChanges(page: Page, symbol = "BTC-USD"): Promise<void> {
    const sel = `tr[data-symbol="${symbol}"] td.last`;
    await page.waitForFunction((s) => !!document.querySelector(s)?.textContent, sel, WAIT);
    const before = await page.textContent(sel);
    await page.waitForFunction(([s, b]) => document.querySelector(s!)?.textContent !== b, [sel, before], WAIT);
  }

  const devicesFilled = (page: Page) =>
    page.waitForFunction(() => {
      const rows = [...document.querySelectorAll("#devices tbody tr")];
      return rows.length === 12 && rows.every((r) => /online|offline/.test(r.querySelector(".pill")?.textContent ?? "") && /°C/.test(r.textContent ?? ""));
    }, null, WAIT);

  test("msgpack: connects, ticks flow, devices and stats fill in; writes docs/dashboard.png", async () => {
    await using server = await startCli(["serve", "--port", "0", ...SERVE]);
    await using o = await open(`http://127.0.0.1:${server.port}/?encoding=msgpack`);
    const { page } = o;
    await connected(page);
    expect(await page.textContent("#mode")).toBe("websocket");
    expect(await page.textContent("#encoding")).toBe("msgpack");
    expect(await page.getAttribute("#enc-msgpack", "class")).toBe("on");
    await priceChanges(page);
    await devicesFilled(page);
    // The page asks the server for its stats every 2 s: the second answer gives the rates.
    await page.waitForFunction(() => /\/s$/.test(document.getElementById("srv-pub-rate")?.textContent ?? ""), null, WAIT);
    expect(Number(await page.textContent("#online"))).toBeGreaterThanOrEqual(1);
    expect(await page.textContent("#sessions")).toMatch(/browser\s*1/);
    expect(await page.textContent("#srv-cpu")).toMatch(/%$/);
    expect(await page.textContent("#srv-rss")).toMatch(/MiB|GiB/);
    expect(await page.locator("#rates li[data-topic]").count()).toBeGreaterThan(5);
    expect(o.frames.binary).toBeGreaterThan(10);
    expect(o.frames.text).toBe(0);

    // Let the sparklines fill a little before the picture for the README.
    await page.waitForFunction(() => [...document.querySelectorAll("#prices polyline")].every((p) => (p.getAttribute("points") ?? "").split(" ").length >= 24), null, WAIT);
    await page.screenshot({ path: SCREENSHOT, animations: "disabled" });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(o.errors).toEqual([]);
  }, 90_000);

  test("json: connects and ticks flow over text frames", async () => {
    await using server = await startCli(["serve", "--port", "0", ...SERVE]);
    await using o = await open(`http://127.0.0.1:${server.port}/?encoding=json`);
    const { page } = o;
    await connected(page);
    expect(await page.textContent("#encoding")).toBe("json");
    expect(await page.textContent("#mode")).toBe("websocket");
    await priceChanges(page, "ETH-USD");
    await devicesFilled(page);
    expect(o.frames.text).toBeGreaterThan(10);
    expect(o.frames.binary).toBe(0);
    expect(o.errors).toEqual([]);
  }, 20_000);

  test("server stopped: shows reconnecting; started again on the same port: recovers and ticks flow", async () => {
    const first = await startCli(["serve", "--port", "0", ...SERVE]);
    const { port } = first;
    await using o = await open(`http://127.0.0.1:${port}/`);
    const { page } = o;
    try {
      await connected(page);
      expect(await page.textContent("#encoding")).toBe("msgpack"); // the default
      await priceChanges(page);
      first.proc.kill("SIGTERM");
      expect(await first.exited).toBe(0);
    } finally {
      await first[Symbol.asyncDispose]();
    }

    await page.waitForFunction(() => document.getElementById("dot")?.classList.contains("reconnecting") && document.getElementById("state")?.textContent === "reconnecting…", null, WAIT);
    expect(await page.evaluate(() => document.body.classList.contains("stale"))).toBe(true);
    expect(await page.textContent("#notice")).toContain("reconnecting");

    await using second = await startCli(["serve", "--port", String(port), ...SERVE]);
    expect(second.port).toBe(port);
    await connected(page);
    await priceChanges(page);
    await devicesFilled(page);
    expect(await page.evaluate(() => (globalThis as unknown as { tickgate: { stats(): { reconnects: number } } }).tickgate.stats().reconnects)).toBe(1);
    expect(await page.isHidden("#notice")).toBe(true);
    expect(o.errors).toEqual([]);
  }, 90_000);

  test("a script that fails to build: the page says so", async () => {
    await using server = await startServer(BROKEN_ENTRY);
    await using o = await open(`http://127.0.0.1:${server.port}/`);
    const { page } = o;
    await page.waitForFunction(() => /could not be built/.test(document.getElementById("notice")?.textContent ?? ""), null, WAIT);
    expect(await page.textContent("#notice")).toStartWith("The dashboard script could not be loaded");
    expect(await page.textContent("#state")).toBe("no script");
    expect(await page.getAttribute("#dot", "class")).toBe("dot");
  }, 15_000);

  test("without the demo feeds the server panel shows the server's own stats", async () => {
    await using server = await startServer();
    await using o = await open(`http://127.0.0.1:${server.port}/`);
    const { page } = o;
    await connected(page);
    server.publish("own.stats", { n: 1 });
    await page.waitForFunction(() => /\/s$/.test(document.getElementById("srv-pub-rate")?.textContent ?? ""), null, WAIT);
    expect(Number((await page.textContent("#srv-publications"))!.replace(/,/g, ""))).toBeGreaterThanOrEqual(1);
    expect(await page.textContent("#srv-cpu")).toMatch(/%$/);
    expect(await page.textContent("#srv-connections")).toBe("1");
    expect(o.errors).toEqual([]);
  }, 20_000);

  test("auth on, no token: not a green 'connected' but the refusal and a token form; a pasted admin token connects", async () => {
    await using server = await startCli(["serve", "--port", "0", ...SERVE, "--devices", "0"], { TICKGATE_AUTH_REQUIRED: "1", TICKGATE_AUTH_SECRET: SECRET });
    await using o = await open(`http://127.0.0.1:${server.port}/`);
    const { page } = o;
    await page.waitForFunction(() => document.getElementById("state")?.textContent === "connected · not authorized", null, WAIT);
    expect(await page.getAttribute("#dot", "class")).toBe("dot refused");
    expect(await page.isVisible("#auth")).toBe(true);
    expect(await page.textContent("#notice")).toContain("requires a token");

    await page.fill("#token", await hs256({ sub: "operator", tg: ALL_TG }));
    await page.click("#auth button");
    await connected(page);
    await priceChanges(page);
    // An admin token gets the full snapshot: CPU and publications, not the short summary.
    await page.waitForFunction(() => /%$/.test(document.getElementById("srv-cpu")?.textContent ?? ""), null, WAIT);
    expect(await page.isHidden("#auth")).toBe(true);
    expect(o.errors).toEqual([]);
  }, 30_000);

  test("fits a 390 px wide screen: nothing scrolls sideways", async () => {
    await using server = await startCli(["serve", "--port", "0", ...SERVE]);
    await using o = await open(`http://127.0.0.1:${server.port}/`, { width: 390, height: 844 });
    const { page } = o;
    await connected(page);
    await priceChanges(page);
    await devicesFilled(page);
    const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth }));
    expect(widths.view).toBe(390);
    expect(widths.doc).toBeLessThanOrEqual(390);
    expect(widths.body).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(tmpdir(), "tickgate-dashboard-390.png"), fullPage: true, animations: "disabled" });
    expect(o.errors).toEqual([]);
  }, 30_000);
});
