/**
 * The crypto dashboard example (seed 001), issue 15: alerts on `alerts.*`
 * (price moves and the operator's `POST /api/alerts`), the chat bot that
 * subscribes to them (in process and as `npm run
 * example:crypto-dashboard:bot`), and the drop-in status widget on a page
 * of another loopback origin, in headless Chromium.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { TickgateClient } from "tickgate/client";
import { runBot } from "../../examples/crypto-dashboard/bot.ts";
import { start, type CryptoDashboard } from "../../examples/crypto-dashboard/server.ts";
import type { Alert } from "../../examples/crypto-dashboard/types.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const WAIT = { polling: 50, timeout: 10_000 } as const;
const ROOT = join(import.meta.dir, "..", "..");
const KEY = "operator-key-for-the-alerts-test-0123";

/** A tiny page that is not the dashboard: the seed's snippet elements and the widget's script tag. */
const widgetPage = (scriptSrc: string) => `<!doctype html><meta charset="utf-8"><title>my intranet page</title>
<p>Users online: <span id="active-users-count">0</span></p>
<ul>
  <li>status <span data-tickgate="status">–</span></li>
  <li>users <span data-tickgate="users-online">0</span></li>
  <li>sessions <span data-tickgate="active-sessions">0</span></li>
  <li>browser <span data-tickgate="sessions-browser">0</span> api <span data-tickgate="sessions-api">0</span> mobile <span data-tickgate="sessions-mobile">0</span></li>
</ul>
<script src="${scriptSrc}"></script>`;

const raise = (app: CryptoDashboard, body: unknown, key: string | null = KEY) =>
  fetch(`${app.url}api/alerts`, { method: "POST", headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: typeof body === "string" ? body : JSON.stringify(body) });

/** Resolves with the first sent chat line that matches. */
function waitForLine(lines: string[], re: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const look = () => {
      const hit = lines.find((l) => re.test(l));
      if (hit) return resolve(hit);
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`no line matching ${re}; got ${JSON.stringify(lines)}`));
      setTimeout(look, 20);
    };
    look();
  });
}

describe("crypto-dashboard alerts, bot and widget", () => {
  let app: CryptoDashboard;
  let allowed: ReturnType<typeof Bun.serve>;
  let other: ReturnType<typeof Bun.serve>;
  let context: BrowserContext | undefined;
  let profile: string | undefined;

  beforeAll(async () => {
    // Two other loopback origins (other ports): one listed as allowed, one not.
    const servePage = () => Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(widgetPage(`${app.url}widget.js`), { headers: { "content-type": "text/html; charset=utf-8" } }) });
    allowed = servePage();
    other = servePage();
    app = await start({
      host: "127.0.0.1",
      port: 0,
      pricesMs: 50,
      marketMs: 1000,
      newsMs: 1000,
      heartbeatMs: 1000,
      alertThresholdPct: 0.2,
      operatorKey: KEY,
      simulatedClients: { api: 1, mobile: 1 },
      allowedOrigins: [`http://127.0.0.1:${allowed.port}`],
    });
    if (haveChromium) {
      profile = mkdtempSync(join(tmpdir(), "tickgate-widget-"));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
    }
  }, 20_000);

  afterAll(async () => {
    await context?.close();
    await app?.stop();
    allowed?.stop(true);
    other?.stop(true);
    if (profile) rmSync(profile, { recursive: true, force: true });
  }, 10_000);

  test.skipIf(!haveChromium)("the status widget fills users online and sessions by type on a page of another allowed origin", async () => {
    const errors: string[] = [];
    const page: Page = await context!.newPage();
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${allowed.port}/`);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-tickgate="status"]')?.dataset.state === "connected", undefined, WAIT);
    // Online now: the widget's own tab (browser), the api and the mobile bot.
    const want = { users: "2", sessions: "3", browser: "1", api: "1", mobile: "1", seed: "2" };
    const read = () =>
      page.evaluate(() => {
        const t = (k: string) => document.querySelector(`[data-tickgate="${k}"]`)?.textContent;
        return { users: t("users-online"), sessions: t("active-sessions"), browser: t("sessions-browser"), api: t("sessions-api"), mobile: t("sessions-mobile"), seed: document.getElementById("active-users-count")?.textContent };
      });
    try {
      await page.waitForFunction((w) => {
        const t = (k: string) => document.querySelector(`[data-tickgate="${k}"]`)?.textContent;
        return t("users-online") === w.users && t("active-sessions") === w.sessions && t("sessions-browser") === w.browser && t("sessions-api") === w.api && t("sessions-mobile") === w.mobile && document.getElementById("active-users-count")?.textContent === w.seed;
      }, want, WAIT);
    } catch (e) {
      throw new Error(`widget shows ${JSON.stringify(await read())}, want ${JSON.stringify(want)}`, { cause: e });
    }
    expect(app.server.sessions).toMatchObject({ browser: 1, api: 1, mobile: 1 });
    // A second tab on that page: both widgets count 3 users.
    const second = await context!.newPage();
    await second.goto(`http://127.0.0.1:${allowed.port}/`);
    for (const p of [page, second]) await p.waitForFunction(() => document.querySelector('[data-tickgate="users-online"]')?.textContent === "3", undefined, WAIT);
    await second.close();
    await page.waitForFunction(() => document.querySelector('[data-tickgate="users-online"]')?.textContent === "2", undefined, WAIT);
    await page.close();
    expect(errors).toEqual([]);
  }, 25_000);

  test.skipIf(!haveChromium)("the widget on an origin that is not allowed is refused at the upgrade and counts nobody", async () => {
    const refusedBefore = app.server.stats(0).security?.refusedOrigin ?? 0;
    const page = await context!.newPage();
    const warnings: string[] = [];
    page.on("console", (m) => warnings.push(m.text()));
    await page.goto(`http://127.0.0.1:${other.port}/`);
    const t0 = Date.now();
    while ((app.server.stats(0).security?.refusedOrigin ?? 0) === refusedBefore && Date.now() - t0 < 10_000) await Bun.sleep(20);
    expect(app.server.stats(0).security?.refusedOrigin).toBeGreaterThan(refusedBefore);
    // The previous test's tabs are gone once the server has seen them close.
    while (app.server.sessions.browser !== 0 && Date.now() - t0 < 10_000) await Bun.sleep(20);
    expect(app.server.sessions.browser).toBe(0);
    expect(await page.evaluate(() => document.querySelector('[data-tickgate="users-online"]')?.textContent)).toBe("0");
    await page.close();
  }, 20_000);

  test("alerts: price moves over the threshold and the operator's, on alerts.*, received by the bot", async () => {
    const sent: string[] = [];
    const bot = runBot(app.server.wsUrl, "@desk", (chat, text) => sent.push(`${chat} ${text}`), () => {});
    const raw: Alert[] = [];
    const watcher = new TickgateClient(app.server.wsUrl, { clientType: "api" });
    watcher.on("error", () => {});
    const sub = watcher.subscribe<Alert>("alerts.*", (a) => raw.push(a));
    watcher.connect();
    try {
      await Promise.all([bot.client.ready(3000), watcher.ready(3000), sub.ready(3000)]);
      // A price move: the random walk crosses 0.2% soon enough.
      const line = await waitForLine(sent, /^@desk (⚠️|🚨) Price alert: [A-Z]+ (up|down) [\d.]+% to \$/);
      const move = raw.find((a) => a.kind === "price")!;
      expect(Math.abs(move.changePct!)).toBeGreaterThanOrEqual(0.2);
      expect(move.changePct).toBeCloseTo(((move.price! - move.from!) / move.from!) * 100, 1);
      expect(line).toContain(move.symbol!);

      // The operator's route: the key is required, the body is checked.
      expect((await raise(app, { message: "x" }, null)).status).toBe(401);
      expect(await (await raise(app, { message: "x" }, "wrong-key-of-the-same-length-012345")).json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
      expect(await (await raise(app, "{not json")).json()).toMatchObject({ error: { code: "INVALID_BODY" } });
      expect(await (await raise(app, { message: "", level: "info" })).json()).toMatchObject({ error: { code: "INVALID_BODY", message: expect.stringContaining("message") } });
      expect(await (await raise(app, { message: "m", level: "panic" })).json()).toMatchObject({ error: { code: "INVALID_BODY", message: expect.stringContaining("level") } });
      const ok = await raise(app, { message: "Exchange maintenance at 22:00 UTC", level: "warning", symbol: "BTC" });
      expect(ok.status).toBe(202);
      expect(await ok.json()).toMatchObject({ topic: "alerts.operator", alert: { kind: "operator", level: "warning", symbol: "BTC" } });
      await waitForLine(sent, /^@desk ⚠️ Operator alert: Exchange maintenance at 22:00 UTC$/);
      // The refused attempts published nothing.
      expect(raw.filter((a) => a.kind === "operator").map((a) => a.message)).toEqual(["Exchange maintenance at 22:00 UTC"]);
      // Nobody raises alerts over a socket: alerts.* is the server's.
      await expect(watcher.publish("alerts.operator", { message: "fake" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    } finally {
      bot.stop();
      watcher.close();
    }
  }, 20_000);

  test("npm run example:crypto-dashboard:bot prints what it would send to the chat", async () => {
    const proc = spawn(process.execPath, ["examples/crypto-dashboard/bot.ts", app.server.wsUrl, "--chat", "@ops"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    try {
      const t0 = Date.now();
      while (!err.includes("alert bot: connected") && Date.now() - t0 < 8000) await Bun.sleep(25);
      expect(err).toContain("alert bot: connected");
      // Subscribed once connected (the subscription rides the first connect); an alert raised now reaches it.
      while (app.server.subscribers("alerts.operator") < 1 && Date.now() - t0 < 8000) await Bun.sleep(25);
      expect((await raise(app, { message: "Bot check", level: "critical" })).status).toBe(202);
      while (!out.includes("→ @ops: 🚨 Operator alert: Bot check") && Date.now() - t0 < 8000) await Bun.sleep(25);
      expect(out).toContain("→ @ops: 🚨 Operator alert: Bot check");
      proc.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
  }, 15_000);
});
