/**
 * The factory IoT example (seed 003) end to end: a real server started the
 * way `npm run example:factory-iot` starts it, its relay controllers
 * connected as tickgate devices (the SDK's device role), and its page in
 * headless Chromium, over the WebSocket and over the SSE + HTTP fallback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { TickgateClient } from "tickgate/client";
import { RelayController } from "../../examples/factory-iot/controllers.ts";
import { start, type FactoryIot, type FactoryIotOptions } from "../../examples/factory-iot/server.ts";
import { mintArgs } from "../../examples/factory-iot/tokens.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`factory-iot example test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);

const OPTIONS: FactoryIotOptions = { host: "127.0.0.1", port: 0, devicesMs: 200, systemStatsMs: 300, commandTtlMs: 1500, applyDelayMs: 200 };
const WAIT = { polling: 50, timeout: 10_000 } as const;
const ROOT = join(import.meta.dir, "..", "..");

const attr = (page: Page, selector: string, name: string) => page.evaluate(([s, n]) => document.querySelector(s!)?.getAttribute(n!) ?? "", [selector, name]);

/** Waits for a relay's command cell to end in `status`, and returns the statuses it went through. */
async function commandOutcome(page: Page, relay: string, status: string): Promise<string[]> {
  const cell = `#relays tr[data-id="${relay}"] td.cmd`;
  try {
    await page.waitForFunction(([c, s]) => document.querySelector<HTMLElement>(c!)?.dataset.status === s, [cell, status], WAIT);
  } catch (e) {
    throw new Error(`relay ${relay}: command never reached '${status}'; cell says '${await page.evaluate((c) => document.querySelector(c)?.textContent, cell)}'`, { cause: e });
  }
  return (await attr(page, cell, "data-history")).split(",");
}

/** Waits until `system.stats` has updated the page `n` more times. */
async function statsTicks(page: Page, n: number): Promise<void> {
  const count = Number(await attr(page, "#sys-ts", "data-count"));
  await page.waitForFunction(([c, k]) => Number(document.getElementById("sys-ts")?.dataset.count) >= c! + k!, [count, n], WAIT);
}

describe.skipIf(!haveChromium)("factory-iot example in Chromium", () => {
  let app: FactoryIot;
  let context: BrowserContext;
  let profile: string;
  let page: Page;
  const pageErrors: string[] = [];

  const open = async (url: string) => {
    const p = await context.newPage();
    p.on("pageerror", (e) => pageErrors.push(String(e)));
    await p.goto(url);
    return p;
  };

  beforeAll(async () => {
    app = await start(OPTIONS);
    profile = mkdtempSync(join(tmpdir(), "tickgate-factory-"));
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

  test("over the WebSocket: request_* fill the tables, pushes keep them live, system.stats every period", async () => {
    page = await open(app.url);
    await page.waitForFunction(() => document.getElementById("conn")?.dataset.state === "connected", undefined, WAIT);
    expect(await attr(page, "#mode", "data-mode")).toBe("websocket");
    await page.waitForFunction(() => document.getElementById("refresh")?.dataset.via === "websocket", undefined, WAIT);
    await page.waitForFunction(() => document.querySelectorAll("#devices tbody tr").length === 6 && document.querySelectorAll("#relays tbody tr").length === 8, undefined, WAIT);
    // Both relay controllers are online, from tickgate's device presence.
    await page.waitForFunction(() => ["relay-ctrl-1", "relay-ctrl-2"].every((id) => document.getElementById(`ctrl-${id}`)?.dataset.state === "online"), undefined, WAIT);
    // Machines update by push.
    const updated = Number(await attr(page, '#devices tr[data-id="press-1"]', "data-updated"));
    await page.waitForFunction((u) => Number(document.querySelector<HTMLElement>('#devices tr[data-id="press-1"]')?.dataset.updated) > u, updated, WAIT);
    await statsTicks(page, 2);
    expect(await page.textContent("#sys-ctrl")).toBe("2");
  }, 20_000);

  test("a relay switch is a device command: pending, then acked by the controller; every dashboard sees it", async () => {
    const ctrl = app.controller("relay-ctrl-1");
    expect(ctrl.outputs[0]).toBe(false);
    await page.click('button[data-relay="R1"]');
    const history = await commandOutcome(page, "R1", "acked");
    expect(history.slice(-2)).toEqual(["pending", "acked"]);
    expect(await attr(page, '#relays tr[data-id="R1"]', "data-on")).toBe("true");
    expect(ctrl.outputs[0]).toBe(true);
    expect(ctrl.applied).toBe(1);
    expect(await page.textContent('#relays tr[data-id="R1"] td.cmd')).toMatch(/acked in \d+ ms/);
    // The controller's own log line (client.log on the device), published by tickgate on devices.relay-ctrl-1.log.
    await page.waitForFunction(() => document.getElementById("log")?.textContent?.includes("[relay-ctrl-1] info: channel 1 → ON"), undefined, WAIT);

    // A second dashboard gets the relay's state and last command from the retained value.
    const other = await open(app.url);
    await other.waitForFunction(() => document.querySelector<HTMLElement>('#relays tr[data-id="R1"]')?.dataset.on === "true", undefined, WAIT);
    expect(await attr(other, '#relays tr[data-id="R1"] td.cmd', "data-status")).toBe("acked");
    // ...and live pushes of commands sent from elsewhere: switch it back off from the first page.
    await page.click('button[data-relay="R1"]');
    await commandOutcome(page, "R1", "acked");
    await other.waitForFunction(() => document.querySelector<HTMLElement>('#relays tr[data-id="R1"]')?.dataset.on === "false", undefined, WAIT);
    expect(ctrl.outputs[0]).toBe(false);
    expect(ctrl.applied).toBe(2);
    await other.close();
    expect(ctrl.errors).toEqual([]);
  }, 20_000);

  test("a controller that refuses a command (command_nack): the page shows the device's code; every dashboard sees the refusal", async () => {
    const ctrl = app.controller("relay-ctrl-2");
    // R8 (the dock door, relay-ctrl-2 channel 4) is locked out for maintenance.
    await page.click('button[data-relay="R8"]');
    const history = await commandOutcome(page, "R8", "refused");
    expect(history.slice(-2)).toEqual(["pending", "refused"]);
    expect(await page.textContent('#relays tr[data-id="R8"] td.cmd')).toBe("→ ON: refused (LOCKED_OUT: channel 4 is locked out for maintenance)");
    expect(await attr(page, '#relays tr[data-id="R8"]', "data-on")).toBe("false");
    expect(ctrl.outputs[3]).toBe(false);
    expect(ctrl.refused).toBe(1);
    // Refused once, and not resent: the server does not redeliver a refused command.
    await statsTicks(page, 2);
    expect(ctrl.refused).toBe(1);
    // The controller reported the refusal too, so a dashboard that did not send it sees it.
    const other = await open(app.url);
    await other.waitForFunction(() => document.querySelector<HTMLElement>('#relays tr[data-id="R8"] td.cmd')?.dataset.status === "refused", undefined, WAIT);
    expect(await other.textContent('#relays tr[data-id="R8"] td.cmd')).toContain("LOCKED_OUT");
    await other.close();
    // Released from lockout, the same relay switches.
    ctrl.lockedOut.delete(4);
    await page.click('button[data-relay="R8"]');
    await commandOutcome(page, "R8", "acked");
    expect(ctrl.outputs[3]).toBe(true);
  }, 20_000);

  test("the controllers' reports: checked by the server's schema, from a controller's own token, for its own relays", async () => {
    const dashboard = new TickgateClient(app.server.wsUrl, { clientType: "browser" }).connect();
    const stranger = new TickgateClient(app.server.wsUrl, { deviceId: "relay-ctrl-9", token: await app.controllerToken("relay-ctrl-9") }).connect();
    const ctrl1 = new TickgateClient(app.server.wsUrl, { deviceId: "relay-ctrl-1", token: await app.controllerToken("relay-ctrl-1") });
    try {
      await Promise.all([dashboard.ready(3000), stranger.ready(3000)]);
      // A dashboard has no token: its anonymous grants do not include report_relay.
      await expect(dashboard.request("report_relay", { controller: "relay-ctrl-1", channel: 1, on: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(stranger.request("report_relay", { controller: "relay-ctrl-9", channel: 1, on: true })).rejects.toMatchObject({ code: "UNKNOWN_RELAY", details: { controller: "relay-ctrl-9", channel: 1 } });
      await expect(stranger.request("report_relay", { controller: "relay-ctrl-1", channel: 1, on: "yes" })).rejects.toMatchObject({ code: "INVALID_FRAME", message: expect.stringContaining("report_relay: on") });
      // A token for one controller does not speak for another.
      await expect(stranger.request("report_relay", { controller: "relay-ctrl-2", channel: 4, on: true })).rejects.toMatchObject({ code: "NOT_YOUR_RELAY", details: { controller: "relay-ctrl-2" } });
    } finally {
      dashboard.close();
      stranger.close();
      ctrl1.close();
    }
  });

  // Issue 15: with auth off anyone could say hello as relay-ctrl-2, report the locked-out dock door ON, and take its commands.
  test("issue 15: a connection without relay-ctrl-2's token cannot report as it nor receive its commands", async () => {
    const ctrl = app.controller("relay-ctrl-2");
    const impostor = new TickgateClient(app.server.wsUrl, { encoding: "json", deviceId: "relay-ctrl-2", meta: { kind: "relay-controller", channels: 4 } }).connect();
    const stolen: unknown[] = [];
    impostor.onCommand("set_relay", (d) => {
      stolen.push(d);
      return { channel: 3, on: true, appliedAt: Date.now() };
    });
    try {
      await impostor.ready(3000);
      // Reporting the dock door ON is refused: a tokenless connection may not call report_relay at all.
      await expect(impostor.request("report_relay", { controller: "relay-ctrl-2", channel: 4, on: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
      // Listening on its command topic directly is refused too.
      impostor.on("error", () => {}); // the refusal below is also reported there
      await expect(impostor.subscribe("devices.relay-ctrl-2.commands", () => {}).ready(3000)).rejects.toMatchObject({ code: "FORBIDDEN" });
      // A command for relay-ctrl-2 (R7, channel 3) reaches the real controller, not the impostor.
      const applied = ctrl.applied;
      await page.click('button[data-relay="R7"]');
      expect((await commandOutcome(page, "R7", "acked")).slice(-2)).toEqual(["pending", "acked"]);
      expect(ctrl.applied).toBe(applied + 1);
      expect(ctrl.outputs[2]).toBe(true);
      expect(stolen).toEqual([]);
      // Every dashboard still shows the real controller online, and the dock door as it reported it.
      expect(await attr(page, "#ctrl-relay-ctrl-2", "data-state")).toBe("online");
    } finally {
      impostor.close();
    }
  }, 20_000);

  test("a relay whose controller lost power: the command times out, and is not applied when it comes back", async () => {
    const ctrl = app.controller("relay-ctrl-2");
    const applied = ctrl.applied;
    ctrl.unplug();
    await page.waitForFunction(() => document.getElementById("ctrl-relay-ctrl-2")?.dataset.state === "offline", undefined, WAIT);
    await page.click('button[data-relay="R5"]');
    const history = await commandOutcome(page, "R5", "timeout");
    expect(history.slice(-2)).toEqual(["pending", "timeout"]);
    expect(await attr(page, '#relays tr[data-id="R5"]', "data-on")).toBe("false");
    expect(await page.textContent('#relays tr[data-id="R5"] td.cmd')).toContain("COMMAND_TIMEOUT");

    ctrl.plug();
    await page.waitForFunction(() => document.getElementById("ctrl-relay-ctrl-2")?.dataset.state === "online", undefined, WAIT);
    // The expired command is gone: the controller, back online, never applies it.
    await statsTicks(page, 2);
    expect(ctrl.applied).toBe(applied);
    expect(ctrl.outputs[0]).toBe(false);
    // Back online, it reported its outputs again: R8 is still on from before the power cut.
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#relays tr[data-id="R8"]')?.dataset.on === "true", undefined, WAIT);
    expect(ctrl.errors).toEqual([]);
  }, 20_000);

  // Issue 15 (003): the seed's own test. A live dashboard whose WebSocket is cut while HTTP
  // still works stayed on "reconnecting…" with frozen data; it must fall back, and come back.
  test("issue 15: a live page's WebSocket cut and upgrades blocked: it leaves reconnecting for SSE, keeps updating, and returns to WebSocket", async () => {
    await using proxy = await startTcpProxy(app.port);
    // The whole page through the proxy: HTTP (page, SSE, requests) passes, WebSockets are what it cuts.
    const live = await open(`http://127.0.0.1:${proxy.port}/?after=800`);
    try {
      await live.waitForFunction(() => document.getElementById("conn")?.dataset.state === "connected" && document.getElementById("mode")?.dataset.mode === "websocket", undefined, WAIT);
      await statsTicks(live, 1);
      expect(proxy.websockets).toBe(1);

      proxy.refuseUpgrades(true);
      proxy.cutWebSockets();
      await live.waitForFunction(() => document.getElementById("conn")?.dataset.state !== "connected", undefined, WAIT);
      await live.waitForFunction(() => document.getElementById("mode")?.dataset.mode === "sse" && document.getElementById("conn")?.dataset.state === "connected", undefined, WAIT);
      expect(await live.textContent("#conn")).toContain("Fallback");
      // (The stream may ride a kept-alive connection of the page's, so the proxy need not see a request line for /sse.)
      expect(proxy.refused).toBeGreaterThanOrEqual(1);
      // The data keeps updating over SSE.
      await statsTicks(live, 2);
      const updated = Number(await attr(live, '#devices tr[data-id="press-1"]', "data-updated"));
      await live.waitForFunction((u) => Number(document.querySelector<HTMLElement>('#devices tr[data-id="press-1"]')?.dataset.updated) > u, updated, WAIT);
      await live.waitForFunction(() => document.getElementById("log")?.textContent?.includes("WebSocket cut and not back within 800 ms"), undefined, WAIT);

      // Upgrades pass again: a probe takes over and the page is on WebSocket, still live.
      proxy.refuseUpgrades(false);
      await live.waitForFunction(() => document.getElementById("mode")?.dataset.mode === "websocket" && document.getElementById("conn")?.dataset.state === "connected", undefined, { polling: 50, timeout: 15_000 });
      expect(proxy.websockets).toBe(1);
      expect(await live.textContent("#conn")).toContain("Real-time (WebSocket)");
      await statsTicks(live, 2);
      expect(pageErrors).toEqual([]);
    } finally {
      await live.close();
    }
  }, 40_000);

  test("WebSocket blocked: falls back to SSE + HTTP within the timeout, says so, and still updates and switches relays", async () => {
    // A TCP listener that accepts the upgrade request and never answers it,
    // as a proxy that swallows WebSockets does.
    const blackHole = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open() {}, data() {}, close() {} } });
    try {
      const sse = await open(`${app.url}?ws=${encodeURIComponent(`ws://127.0.0.1:${blackHole.port}/ws`)}&timeout=800`);
      await sse.waitForFunction(() => document.getElementById("mode")?.dataset.mode === "sse" && document.getElementById("conn")?.dataset.state === "connected", undefined, WAIT);
      expect(await sse.textContent("#conn")).toContain("Fallback");
      // The request_* answers came over HTTP.
      await sse.waitForFunction(() => document.getElementById("refresh")?.dataset.via === "sse", undefined, WAIT);
      await sse.waitForFunction(() => document.querySelectorAll("#devices tbody tr").length === 6 && document.querySelectorAll("#relays tbody tr").length === 8, undefined, WAIT);
      // Pushes keep coming over SSE.
      await statsTicks(sse, 2);
      const updated = Number(await attr(sse, '#devices tr[data-id="cnc-1"]', "data-updated"));
      await sse.waitForFunction((u) => Number(document.querySelector<HTMLElement>('#devices tr[data-id="cnc-1"]')?.dataset.updated) > u, updated, WAIT);

      // A relay switch over HTTP, confirmed by the controller, and pushed back over SSE.
      await sse.click('button[data-relay="R2"]');
      const history = await commandOutcome(sse, "R2", "acked");
      expect(history.slice(-2)).toEqual(["pending", "acked"]);
      await sse.waitForFunction(() => document.querySelector<HTMLElement>('#relays tr[data-id="R2"]')?.dataset.on === "true", undefined, WAIT);
      expect(app.controller("relay-ctrl-1").outputs[1]).toBe(true);
      // The WebSocket page sees it too.
      await page.waitForFunction(() => document.querySelector<HTMLElement>('#relays tr[data-id="R2"]')?.dataset.on === "true", undefined, WAIT);
      await sse.close();
    } finally {
      blackHole.stop(true);
    }
    expect(pageErrors).toEqual([]);
  }, 25_000);

  test("a real controller with a token minted by the CLI command the README gives takes relay-ctrl-2's commands", async () => {
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", ...mintArgs("relay-ctrl-2")], { cwd: ROOT, env: { ...process.env, TICKGATE_AUTH_SECRET: app.secret! }, stdout: "pipe", stderr: "pipe" });
    const token = (await new Response(proc.stdout).text()).trim();
    expect(await proc.exited).toBe(0);
    const sim = app.controller("relay-ctrl-2");
    sim.unplug();
    await page.waitForFunction(() => document.getElementById("ctrl-relay-ctrl-2")?.dataset.state === "offline", undefined, WAIT);
    const real = new RelayController("relay-ctrl-2", app.server.wsUrl, 4, { token, applyDelayMs: 50 }).start();
    try {
      await page.waitForFunction(() => document.getElementById("ctrl-relay-ctrl-2")?.dataset.state === "online", undefined, WAIT);
      await page.click('button[data-relay="R6"]');
      expect((await commandOutcome(page, "R6", "acked")).slice(-2)).toEqual(["pending", "acked"]);
      expect(real.outputs[1]).toBe(true);
      expect(real.errors).toEqual([]);
    } finally {
      real.stop();
      sim.plug();
    }
    expect(pageErrors).toEqual([]);
  }, 20_000);
});

describe("factory-iot example, run open (--open)", () => {
  test("without auth, any connection may speak for relay-ctrl-2: what the README warns about", async () => {
    const app = await start({ ...OPTIONS, open: true });
    const impostor = new TickgateClient(app.server.wsUrl, { deviceId: "relay-ctrl-2" });
    try {
      expect(app.secret).toBeUndefined();
      await expect(app.controllerToken("relay-ctrl-1")).rejects.toThrow("running open");
      app.controller("relay-ctrl-2").unplug();
      impostor.connect();
      await impostor.ready(3000);
      // Its report is taken as relay-ctrl-2's (the device id comes from its hello).
      expect(await impostor.request("report_relay", { controller: "relay-ctrl-2", channel: 4, on: true })).toEqual({ relay: "R8" });
    } finally {
      impostor.close();
      await app.stop();
    }
  });
});

describe("factory-iot example: the command", () => {
  test("npm run example:factory-iot: serves the page, its controllers come online, exits 0 on SIGTERM", async () => {
    const proc = spawn(process.execPath, ["examples/factory-iot/main.ts", "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    try {
      const t0 = Date.now();
      while (!/factory dashboard: http:\/\/127\.0\.0\.1:\d+\//.test(out) && Date.now() - t0 < 8000) await Bun.sleep(25);
      const url = /factory dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
      expect(url).toBeDefined();
      expect(await (await fetch(url!)).text()).toContain('<script type="module" src="/app.js">');
      expect((await fetch(`${url}app.js`)).status).toBe(200);
      // Both controllers are online, as devices; the relays over HTTP, the way a dashboard on the fallback asks.
      const ask = async () => (await (await fetch(`${url}api/request/request_system_stats`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).json()).data;
      while ((await ask()).controllersOnline !== 2 && Date.now() - t0 < 8000) await Bun.sleep(50);
      expect((await ask()).controllersOnline).toBe(2);
      // Controllers authenticate by default; the secret is in a file only the user can read, never on stdout.
      const secretFile = /HS256 secret in (\S+)/.exec(out)?.[1];
      expect(secretFile).toBeDefined();
      expect(statSync(secretFile!).mode & 0o777).toBe(0o600);
      const secret = readFileSync(secretFile!, "utf8").trim();
      expect(secret).toMatch(/^[0-9a-f]{64}$/);
      expect(out).toContain(`token for a real controller: TICKGATE_AUTH_SECRET="$(cat ${secretFile})" npm run -s tickgate -- token --sub relay-ctrl-2 --client device`);
      proc.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(out).toContain("factory dashboard: closing");
      expect(out).not.toContain(secret);
      rmSync(dirname(secretFile!), { recursive: true, force: true });
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
  }, 15_000);
});
