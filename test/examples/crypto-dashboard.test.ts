/**
 * The crypto dashboard example (seed 001) end to end: a real server started
 * the way `npm run example:crypto-dashboard` starts it, and its page in
 * headless Chromium. Tabs come and go, the server restarts, and the status
 * bar must stay right in every tab without a reload.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { start, type CryptoDashboard, type CryptoDashboardOptions } from "../../examples/crypto-dashboard/server.ts";
import { internals } from "../../src/internal.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`crypto-dashboard example test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);

const OPTIONS: CryptoDashboardOptions = {
  host: "127.0.0.1",
  port: 0,
  pricesMs: 100,
  marketMs: 200,
  newsMs: 200,
  heartbeatMs: 300,
  // One api bot, so the bar has more than browsers to count.
  simulatedClients: { api: 1, mobile: 0 },
};
const WAIT = { polling: 50, timeout: 10_000 } as const;
const ROOT = join(import.meta.dir, "..", "..");

interface Bar {
  users: string;
  sessions: string;
  browser: string;
  api: string;
  mobile: string;
}

/** Waits until the page's status bar shows exactly these counts. */
async function waitForBar(page: Page, want: Bar): Promise<void> {
  try {
    await page.waitForFunction(
      (w) => {
        const t = (id: string) => document.getElementById(id)?.textContent;
        return t("users-online") === w.users && t("active-sessions") === w.sessions && t("c-browser") === w.browser && t("c-api") === w.api && t("c-mobile") === w.mobile;
      },
      want,
      WAIT,
    );
  } catch (e) {
    const got = await page.evaluate(() => ["users-online", "active-sessions", "c-browser", "c-api", "c-mobile"].map((id) => document.getElementById(id)?.textContent).join(" "));
    throw new Error(`status bar never showed ${JSON.stringify(want)}; it shows users/sessions/browser/api/mobile = ${got}`, { cause: e });
  }
}

/** Polls a server-side condition (the page's own conditions are waited on in the page). */
async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

const text = (page: Page, id: string) => page.evaluate((i) => document.getElementById(i)?.textContent ?? "", id);
const attr = (page: Page, id: string, name: string) => page.evaluate(([i, n]) => document.getElementById(i!)?.getAttribute(n!) ?? "", [id, name]);
const counts = async (page: Page) => ({ market: Number(await text(page, "n-market")), prices: Number(await text(page, "n-prices")), news: Number(await text(page, "n-news")) });

describe.skipIf(!haveChromium)("crypto-dashboard example in Chromium", () => {
  let app: CryptoDashboard;
  let context: BrowserContext;
  let profile: string;
  let tab1: Page;
  let tab2: Page;
  const pageErrors: string[] = [];

  const openTab = async () => {
    const p = await context.newPage();
    p.on("pageerror", (e) => pageErrors.push(String(e)));
    // The client heartbeat every 2 s instead of the seed's 10 s: a ping unanswered within its period drops the
    // connection, and on a busy machine 200 ms was not enough (the dot flapped to amber mid-test).
    await p.goto(`${app.url}?heartbeat=2000`);
    return p;
  };

  beforeAll(async () => {
    app = await start(OPTIONS);
    profile = mkdtempSync(join(tmpdir(), "tickgate-crypto-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 20_000);

  afterAll(async () => {
    await context?.close();
    await app?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  }, 10_000);

  test("two tabs: both show 2 users online, 1 api bot, and a green dot", async () => {
    tab1 = await openTab();
    tab2 = await openTab();
    for (const tab of [tab1, tab2]) {
      await tab.waitForFunction(() => document.getElementById("dot")?.dataset.state === "connected", undefined, WAIT);
      expect(await attr(tab, "dot", "class")).toContain("green");
      await waitForBar(tab, { users: "2", sessions: "3", browser: "2", api: "1", mobile: "0" });
    }
    // The bar agrees with the server's own count.
    expect(app.server.sessions).toMatchObject({ browser: 2, api: 1, mobile: 0 });
    // Pushed on connect and disconnect only: nothing is republished while nobody comes or goes.
    const presenceSeq = () => internals(app.server).broker.topics.get("sys.presence")?.seq;
    const before = presenceSeq();
    await Bun.sleep(400);
    expect(presenceSeq()).toBe(before);
    // Each tab is its own session.
    expect(await text(tab1, "session")).not.toBe(await text(tab2, "session"));
  }, 20_000);

  test("channels: typed handlers fill market, prices and news; 'all' is one '>' subscription; unpicking unsubscribes", async () => {
    await tab1.waitForFunction(() => document.getElementById("subs")?.dataset.topics === "market.* prices.* news.*", undefined, WAIT);
    await tab1.waitForFunction(
      () => ["n-market", "n-prices", "n-news"].every((id) => Number(document.getElementById(id)?.textContent) > 0) && document.querySelectorAll("#prices tbody tr").length === 6 && document.querySelectorAll("#news li").length > 0,
      undefined,
      WAIT,
    );
    expect(await text(tab1, "m-cap")).toMatch(/^\$[\d.]+ B$/);

    await tab1.check('input[name="channel"][value="all"]');
    await tab1.waitForFunction(() => document.getElementById("subs")?.dataset.topics === ">", undefined, WAIT);
    expect(await tab1.isDisabled('input[name="channel"][value="prices"]')).toBe(true);
    const before = await counts(tab1);
    await tab1.waitForFunction(
      (b) => Number(document.getElementById("n-market")?.textContent) > b.market && Number(document.getElementById("n-prices")?.textContent) > b.prices && Number(document.getElementById("n-news")?.textContent) > b.news,
      before,
      WAIT,
    );
    expect(app.server.stats().topTopics.find((t) => t.topic === ">")?.subscribers).toBe(1);

    // Back to single channels, without prices: the server drops this tab's prices subscription.
    await tab1.uncheck('input[name="channel"][value="all"]');
    await tab1.uncheck('input[name="channel"][value="prices"]');
    await tab1.waitForFunction(() => document.getElementById("subs")?.dataset.topics === "market.* news.*", undefined, WAIT);
    // tab2 and the api bot still hold prices.*; the unsubscribes are fire-and-forget, so poll.
    const subscribers = (topic: string) => app.server.stats().topTopics.find((t) => t.topic === topic)?.subscribers ?? 0;
    await until("the tab's '>' and 'prices.*' subscriptions to end", () => subscribers(">") === 0 && subscribers("prices.*") === 2);
    expect(subscribers("market.*")).toBe(2);
  }, 20_000);

  test("stats on request (a stats frame) answer fast with this session, and the heartbeat ticks", async () => {
    const prev = await attr(tab1, "stats-ms", "data-ms");
    await tab1.click("#stats-btn");
    await tab1.waitForFunction((p) => { const v = document.getElementById("stats-ms")?.dataset.ms; return v !== undefined && v !== "" && v !== p; }, prev, WAIT);
    const ms = Number(await attr(tab1, "stats-ms", "data-ms"));
    // The page measures and shows the round trip (how fast is the bench's business).
    expect(Number.isFinite(ms) && ms >= 0).toBe(true);
    const reply = JSON.parse(await text(tab1, "stats-out"));
    expect(reply).toMatchObject({ usersOnline: 2, activeSessions: 3, byClient: { browser: 2, api: 1, mobile: 0 }, session: { client: "browser", id: await text(tab1, "session") } });
    // The seed's session metadata, sent by the page in its hello.
    expect(reply.session.meta).toEqual({ source: "unified_dashboard" });
    expect(await text(tab1, "connected-at")).toMatch(/^\d\d:\d\d:\d\d$/);

    const hb = Number(await attr(tab1, "heartbeat", "data-ts"));
    await tab1.waitForFunction((h) => Number(document.getElementById("heartbeat")?.dataset.ts) > h, hb, WAIT);
    // The client's own heartbeat: each answered ping, with its round trip.
    const pings = Number(await attr(tab1, "rtt", "data-count"));
    await tab1.waitForFunction((n) => Number(document.getElementById("rtt")?.dataset.count) >= n + 2, pings, WAIT);
    const rtt = Number(await attr(tab1, "rtt", "data-rtt"));
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(rtt)).toBe(true);
  }, 15_000);

  test("closing a tab: the other shows 1 user online", async () => {
    await tab2.close();
    await waitForBar(tab1, { users: "1", sessions: "2", browser: "1", api: "1", mobile: "0" });
  }, 15_000);

  test("server restart: the dot goes amber, then green again, with the right counts and no reload", async () => {
    const session = await text(tab1, "session");
    const history = (await attr(tab1, "dot", "data-history")).split(",");
    expect(history.at(-1)).toBe("connected");
    await tab1.evaluate(() => ((window as unknown as { marker: number }).marker = 42)); // gone if the page reloads

    const port = app.port;
    await app.stop();
    await tab1.waitForFunction(() => document.getElementById("dot")?.dataset.state !== "connected", undefined, WAIT);
    expect(await attr(tab1, "dot", "class")).toMatch(/amber|red/);
    app = await start({ ...OPTIONS, port });

    await tab1.waitForFunction(() => document.getElementById("dot")?.dataset.state === "connected", undefined, { polling: 50, timeout: 15_000 });
    const after = (await attr(tab1, "dot", "data-history")).split(",").slice(history.length);
    expect(after[0]).toBe("reconnecting");
    expect(after.at(-1)).toBe("connected");
    expect(await attr(tab1, "dot", "class")).toContain("green");
    await waitForBar(tab1, { users: "1", sessions: "2", browser: "1", api: "1", mobile: "0" });
    expect(await text(tab1, "session")).not.toBe(session);
    expect(Number(await text(tab1, "reconnects"))).toBeGreaterThanOrEqual(1);
    expect(await tab1.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);

    // A tab opened after the restart is counted in both.
    tab2 = await openTab();
    for (const tab of [tab1, tab2]) await waitForBar(tab, { users: "2", sessions: "3", browser: "2", api: "1", mobile: "0" });
    // Data flows again on the new server.
    const before = await counts(tab1);
    await tab1.waitForFunction((b) => Number(document.getElementById("n-market")?.textContent) > b.market && Number(document.getElementById("n-news")?.textContent) > b.news, before, WAIT);
    expect(pageErrors).toEqual([]);
  }, 30_000);
});

describe("crypto-dashboard example: the command", () => {
  test("npm run example:crypto-dashboard: serves the page and its script, exits 0 on SIGTERM", async () => {
    const proc = spawn(process.execPath, ["examples/crypto-dashboard/main.ts", "--port", "0", "--no-bots"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    try {
      const t0 = Date.now();
      while (!/crypto dashboard: http:\/\/127\.0\.0\.1:\d+\//.test(out) && Date.now() - t0 < 8000) await Bun.sleep(25);
      const url = /crypto dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
      expect(url).toBeDefined();
      const page = await fetch(url!);
      expect(page.headers.get("content-type")).toContain("text/html");
      expect(await page.text()).toContain('<script type="module" src="/app.js">');
      const script = await fetch(`${url}app.js`);
      expect(script.status).toBe(200);
      expect(script.headers.get("content-type")).toContain("javascript");
      expect((await fetch(`${url}health`)).status).toBe(200); // tickgate's own routes are still there
      // The operator key is in a file only the user can read, and it works; stdout never shows it.
      while (!/operator key for POST \/api\/alerts in \S+/.test(out) && Date.now() - t0 < 8000) await Bun.sleep(25);
      const keyFile = /operator key for POST \/api\/alerts in (\S+)/.exec(out)?.[1];
      expect(keyFile).toBeDefined();
      expect(statSync(keyFile!).mode & 0o777).toBe(0o600);
      const key = readFileSync(keyFile!, "utf8").trim();
      const raised = await fetch(`${url}api/alerts`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ message: "hello" }) });
      expect(raised.status).toBe(202);
      expect((await fetch(`${url}widget.js`)).status).toBe(200);
      proc.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(out).toContain("crypto dashboard: closing");
      expect(out).not.toContain(key);
      rmSync(dirname(keyFile!), { recursive: true, force: true });
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
  }, 15_000);
});
