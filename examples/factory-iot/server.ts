/**
 * Seed 003, the factory IoT dashboard, on tickgate: machines, relays and
 * system stats pushed to every dashboard; `request_devices`,
 * `request_relays`, `request_system_stats` answered over the socket (and,
 * for dashboards on the SSE fallback, over tickgate's built-in
 * `POST /api/request/<method>`); relays switched by device commands that
 * dashboards send to the relay controllers themselves, which report each
 * output's state back. The same server serves the dashboard page.
 * Controllers authenticate with their own device tokens (minted here at
 * start); dashboards need none and get the anonymous grants below.
 *
 * Only tickgate's public API is used: `tickgate/bun` (createServer,
 * scriptRoute), `tickgate` (TickgateError, types) and `tickgate/client`
 * (in the controllers).
 * @module
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { mintToken, TickgateError, type TickgateServer } from "tickgate";
import { createServer, scriptRoute } from "tickgate/bun";
import { z } from "zod";
import { RelayController } from "./controllers.ts";
import { CONTROLLER_GRANTS } from "./tokens.ts";
import { CODES, METHODS, TOPICS, type Machine, type MachineStatus, type Relay, type RelaysAnswer, type SystemStats } from "./types.ts";

const PAGE_DIR = join(import.meta.dir, "page");

export interface FactoryIotOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8082; 0 picks a free port. */
  port?: number;
  /** A machine reading, this often (default 1000 ms). */
  devicesMs?: number;
  /** `system.stats`, this often (default 2000 ms, as in the seed). */
  systemStatsMs?: number;
  /** How long a relay command may wait for its controller's ack (default 4000 ms); dashboards send it as the command's `ttlMs`. */
  commandTtlMs?: number;
  /** How long a controller takes to switch (default 150 ms). */
  applyDelayMs?: number;
  /** Relays whose output is locked out for maintenance: their controller refuses commands with `LOCKED_OUT` (default `["R8"]`). */
  lockedOut?: string[];
  /** Random source in [0, 1); tests may pass a seeded one. */
  random?: () => number;
  /**
   * HS256 secret (at least 32 characters) that signs the controllers'
   * device tokens; default: generated at start. Real controllers need
   * tokens signed with it (`npm run tickgate -- token ...`, see the README).
   */
  secret?: string;
  /**
   * `true`: auth off, for a quick look. Then any connection may say `hello`
   * as any controller, receive its commands and report its relays.
   * Default `false`: every controller needs its own device token.
   */
  open?: boolean;
}

export interface FactoryIot {
  /** The page, e.g. `http://127.0.0.1:8082/`. */
  url: string;
  port: number;
  server: TickgateServer;
  /** The simulated relay controllers, connected to the server as devices. */
  controllers: RelayController[];
  controller(id: string): RelayController;
  /** The HS256 secret that signs device tokens; `undefined` when running open. */
  secret: string | undefined;
  /** A device token for controller `id` (the grants `npm run tickgate -- token` gives it, see the README). Throws when running open. */
  controllerToken(id: string, ttlSec?: number): Promise<string>;
  /** Stops producers and controllers, closes every connection (1001), stops listening. Idempotent. */
  stop(): Promise<void>;
}

const MACHINES: Array<Pick<Machine, "id" | "name" | "line">> = [
  { id: "press-1", name: "Hydraulic press 1", line: "A" },
  { id: "press-2", name: "Hydraulic press 2", line: "A" },
  { id: "cnc-1", name: "CNC mill", line: "B" },
  { id: "weld-1", name: "Welding robot", line: "B" },
  { id: "paint-1", name: "Paint booth", line: "C" },
  { id: "pack-1", name: "Packaging line", line: "C" },
];

const RELAYS: Array<Pick<Relay, "id" | "label" | "controller" | "channel">> = [
  { id: "R1", label: "Conveyor A", controller: "relay-ctrl-1", channel: 1 },
  { id: "R2", label: "Conveyor B", controller: "relay-ctrl-1", channel: 2 },
  { id: "R3", label: "Exhaust fan", controller: "relay-ctrl-1", channel: 3 },
  { id: "R4", label: "Floor lights", controller: "relay-ctrl-1", channel: 4 },
  { id: "R5", label: "Compressor", controller: "relay-ctrl-2", channel: 1 },
  { id: "R6", label: "Coolant pump", controller: "relay-ctrl-2", channel: 2 },
  { id: "R7", label: "Warning beacon", controller: "relay-ctrl-2", channel: 3 },
  { id: "R8", label: "Dock door", controller: "relay-ctrl-2", channel: 4 },
];

/** A controller's `report_relay`, checked by the server before the handler runs. */
export const RelayReportSchema = z.object({
  controller: z.string().min(1).max(128),
  channel: z.number().int().min(1),
  on: z.boolean(),
  command: z
    .object({
      status: z.enum(["pending", "acked", "refused"]),
      on: z.boolean(),
      at: z.number(),
      ms: z.number().min(0).optional(),
      code: z.string().max(64).optional(),
      error: z.string().max(1024).optional(),
    })
    .optional(),
});

/**
 * What a dashboard (a connection without a token) may do: read the plant,
 * the controllers' presence and logs, ask the three `request_*`, and send
 * relay commands. It cannot report a relay or take a controller's commands.
 */
export const DASHBOARD_GRANTS = {
  subscribe: [TOPICS.devices, TOPICS.relays, TOPICS.systemStats, TOPICS.controllers, TOPICS.controllerLogs],
  publish: ["devices.*.commands"],
  request: [METHODS.devices, METHODS.relays, METHODS.systemStats],
};

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Starts the server, the machine simulation and the relay controllers; the page is built before it listens. */
export async function start(opts: FactoryIotOptions = {}): Promise<FactoryIot> {
  const rnd = opts.random ?? Math.random;
  const commandTtlMs = opts.commandTtlMs ?? 4000;
  const html = await Bun.file(join(PAGE_DIR, "index.html")).text();
  const appJs = scriptRoute(join(PAGE_DIR, "main.ts"));
  const built = await appJs(); // built once now: a broken page fails the start, not the first visitor
  if (!built.ok) throw new Error(`page build failed: ${(await built.json()).error.message}`);

  // ---- the plant's state ----
  const machines = new Map<string, Machine>(
    MACHINES.map((m) => [m.id, { ...m, status: "running", temperature: round(35 + rnd() * 15, 1), powerKw: round(5 + rnd() * 20, 1), cycles: Math.floor(rnd() * 1000), updatedAt: Date.now() }]),
  );
  const relays = new Map<string, Relay>(RELAYS.map((r) => [r.id, { ...r, on: false, pending: false }]));
  const relayAt = new Map<string, Relay>(RELAYS.map((r) => [`${r.controller}#${r.channel}`, relays.get(r.id)!]));

  const secret = opts.open ? undefined : (opts.secret ?? randomBytes(32).toString("hex"));
  const server = createServer({
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? 8082,
    shutdownGraceMs: 1000,
    // Controllers authenticate; dashboards need no login (anonymous grants), as in the seed.
    ...(secret === undefined ? {} : { auth: { required: true, secret, anonymous: DASHBOARD_GRANTS } }),
    topics: [TOPICS.devices, TOPICS.relays, TOPICS.systemStats, TOPICS.controllers, TOPICS.controllerLogs],
    devices: { presence: true, commandTtlMs, redeliverMs: 1000 },
    policies: [
      { match: "factory.>", action: "conflate", retain: true, publish: "server", historySize: 100 },
      { match: "system.>", action: "conflate", retain: true, publish: "server" },
      // (devices.*.presence, the controllers' presence, is retained and server-only out of the box.)
      // The controllers' log lines (written by tickgate from their `log` frames): the last few for a reconnecting page.
      { match: "devices.*.log", publish: "server", historySize: 50 },
    ],
  });

  // ---- request handlers: the seed's request_* events, and the controllers' reports ----
  const startedAt = Date.now();
  const systemStats = (): SystemStats => {
    const s = server.stats(0); // CPU, memory and devices online; the connection counts are live counters
    const byStatus: Record<MachineStatus, number> = { running: 0, idle: 0, fault: 0 };
    for (const m of machines.values()) byStatus[m.status]++;
    return {
      ts: Date.now(),
      uptimeSec: Math.round((Date.now() - startedAt) / 1000),
      cpuPercent: s.cpu.percent,
      memoryMb: round(s.memory.rss / 2 ** 20, 1),
      connections: server.connections,
      dashboards: server.sessions.browser,
      controllersOnline: s.devicesOnline ?? 0,
      machines: byStatus,
      relaysOn: [...relays.values()].filter((r) => r.on).length,
    };
  };

  // Producers on timers and the reports: tryPublish never throws (a refusal, e.g. while closing, is logged).
  const publish = (topic: string, data: unknown, key?: string) => {
    if (!server.closing) server.tryPublish(topic, data, key === undefined ? {} : { key });
  };
  const publishRelay = (r: Relay) => publish(TOPICS.relay(r.id), r, r.id);

  server.handle(METHODS.devices, () => ({ devices: [...machines.values()] }));
  server.handle(METHODS.relays, (): RelaysAnswer => ({ relays: [...relays.values()], commandTtlMs }));
  server.handle(METHODS.systemStats, systemStats);
  // A controller reports an output and the fate of a command it got; every dashboard sees it on factory.relays.<id>.
  server.handle(
    METHODS.report,
    (rep, ctx) => {
      if (ctx.client !== "device") throw new TickgateError(CODES.NOT_A_CONTROLLER, "only relay controllers (device connections) report relay states");
      // A controller reports its own relays only: the device id comes from its token (or, running open, its hello).
      if (ctx.device !== rep.controller) {
        throw new TickgateError(CODES.NOT_YOUR_RELAY, `${String(ctx.device).slice(0, 64)} may not report for ${rep.controller.slice(0, 64)}`, { details: { controller: rep.controller } });
      }
      const r = relayAt.get(`${rep.controller}#${rep.channel}`);
      if (!r) throw new TickgateError(CODES.UNKNOWN_RELAY, `no relay on ${rep.controller.slice(0, 64)} channel ${rep.channel}`, { details: { controller: rep.controller, channel: rep.channel } });
      r.on = rep.on;
      if (rep.command) {
        r.pending = rep.command.status === "pending";
        r.lastCommand = rep.command;
      }
      publishRelay(r);
      return { relay: r.id };
    },
    { schema: RelayReportSchema },
  );

  // ---- HTTP: the page and its script, in front of tickgate's own routes ----
  const page = () => new Response(html, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
  server.route("GET", "/", page).route("HEAD", "/", page).route("GET", "/app.js", appJs);

  await server.listen();

  // ---- producers ----
  const timers: ReturnType<typeof setInterval>[] = [];
  const every = (ms: number, fn: () => void) => {
    fn();
    timers.push(setInterval(fn, ms));
  };
  const readMachine = (m: Machine) => {
    const r = rnd();
    if (m.status === "fault") m.status = r < 0.3 ? "idle" : "fault";
    else if (r < 0.03) m.status = "fault";
    else if (r < 0.12) m.status = m.status === "running" ? "idle" : "running";
    const running = m.status === "running";
    m.temperature = round(Math.min(95, Math.max(20, m.temperature + (running ? 0.4 : -0.6) + (rnd() - 0.5) * 1.5)), 1);
    m.powerKw = round(running ? Math.max(1, m.powerKw + (rnd() - 0.5) * 2) : 0.4, 1);
    if (running) m.cycles += 1 + Math.floor(rnd() * 3);
    m.updatedAt = Date.now();
    publish(TOPICS.device(m.id), m, m.id);
  };
  every(opts.devicesMs ?? 1000, () => {
    for (const m of machines.values()) readMachine(m);
  });
  for (const r of relays.values()) publishRelay(r);
  every(opts.systemStatsMs ?? 2000, () => publish(TOPICS.systemStats, systemStats()));

  // ---- the relay controllers, connected as devices ----
  const locked = new Set(opts.lockedOut ?? ["R8"]);
  const channels = new Map<string, { n: number; lockedOut: number[] }>();
  for (const r of RELAYS) {
    const c = channels.get(r.controller) ?? { n: 0, lockedOut: [] };
    c.n = Math.max(c.n, r.channel);
    if (locked.has(r.id)) c.lockedOut.push(r.channel);
    channels.set(r.controller, c);
  }
  const controllerToken = (id: string, ttlSec = 30 * 86400) => {
    if (secret === undefined) return Promise.reject(new Error("running open: no tokens"));
    return mintToken({ ...CONTROLLER_GRANTS, sub: id, ttlSec }, secret);
  };
  const controllers: RelayController[] = [];
  for (const [id, c] of channels) {
    const token = secret === undefined ? undefined : await controllerToken(id);
    const o = { lockedOut: c.lockedOut, ...(token ? { token } : {}), ...(opts.applyDelayMs === undefined ? {} : { applyDelayMs: opts.applyDelayMs }) };
    controllers.push(new RelayController(id, server.wsUrl, c.n, o).start());
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `${server.url}/`,
    port: server.port,
    server,
    controllers,
    controller(id) {
      const c = controllers.find((x) => x.id === id);
      if (!c) throw new Error(`no controller '${id}'`);
      return c;
    },
    secret,
    controllerToken,
    stop: () =>
      (stopping ??= (async () => {
        for (const t of timers) clearInterval(t);
        for (const c of controllers) c.stop();
        await server.close();
      })()),
  };
}
