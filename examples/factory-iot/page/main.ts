/**
 * The factory dashboard page: machines, relays and system stats pushed by
 * the server; the seed's `request_*` calls on connect and on Refresh; relay
 * switching as device commands the page sends to the relay controller
 * itself (`client.command()`), shown pending → acked, refused (with the
 * controller's code) or timeout; the controllers' log lines; and the seed's
 * fallback: if the WebSocket is not open within 5 s, SSE for the pushes and
 * HTTP for requests and commands (the client does both by itself), with the
 * mode on screen.
 *
 * Query parameters (for trying the fallback, and for the tests):
 * `?ws=<WebSocket URL>` connects somewhere else, `?timeout=<ms>` shortens the 5 s,
 * `?after=<ms>` how long a cut WebSocket may fail to come back before SSE (default 5 s).
 * @module
 */
import { ClientErrorCode, ErrorCode, TickgateClient, TickgateClientError, type ClientMode, type ClientState, type MessageMeta } from "tickgate/client";
import {
  METHODS,
  SET_RELAY,
  TOPICS,
  type CommandStatus,
  type LogLine,
  type Machine,
  type Presence,
  type Relay,
  type RelayAck,
  type RelaysAnswer,
  type SetRelay,
  type SystemStats,
} from "../types.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const time = (ts: number) => new Date(ts).toLocaleTimeString("en-GB");
function log(line: string): void {
  const el = $("log");
  el.textContent = `${time(Date.now())} ${line}\n${el.textContent ?? ""}`.slice(0, 4000);
}

const params = new URLSearchParams(location.search);
const wsUrl = params.get("ws") ?? `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const connectTimeoutMs = Number(params.get("timeout") ?? 5000);
const fallbackAfterMs = Number(params.get("after") ?? 5000);

const client = new TickgateClient(wsUrl, {
  encoding: "json",
  clientType: "browser",
  connectTimeoutMs, // the seed's "not connected within 5 s → fall back"
  fallback: "sse",
  // The seed's own test: a live dashboard whose WebSocket is cut while HTTP still works
  // leaves "reconnecting…" for SSE after this, and comes back to WebSocket when it can.
  fallbackAfterMs,
  // SSE, requests and commands over HTTP go to this page's server, wherever `?ws=` points.
  httpUrl: location.origin,
  heartbeatMs: 10_000,
  reconnect: { minDelayMs: 250, maxDelayMs: 3000 },
});

// ---- mode and state on screen ----

function showConnection(): void {
  const mode: ClientMode = client.mode;
  const state: ClientState = client.state;
  const badge = $("conn");
  badge.dataset.mode = mode;
  badge.dataset.state = state;
  badge.textContent =
    state !== "connected" ? (state === "disconnected" ? "🔴 Disconnected" : `🔴 ${state}…`) : mode === "websocket" ? "🟢 Real-time (WebSocket)" : "🟠 Fallback (SSE + HTTP)";
  $("mode").textContent = mode;
  $("mode").dataset.mode = mode;
  $("state").textContent = state;
}
/** Whether a WebSocket has been open: a fallback after that is a cut, not a blocked start. */
let everOpen = false;
client.on("state", (s, prev) => {
  if (s === "connected" && client.mode === "websocket") everOpen = true;
  showConnection();
  log(`${prev} → ${s} (${client.mode})`);
  if (s === "connected") void refresh();
});
client.on("mode", (m) => {
  showConnection();
  if (m === "websocket") log("WebSocket is back: switched to WEBSOCKET for everything");
  else if (everOpen) log(`WebSocket cut and not back within ${fallbackAfterMs} ms: switched to SSE for pushes and HTTP for requests and commands`);
  else log(`WebSocket not open within ${connectTimeoutMs} ms: switched to SSE for pushes and HTTP for requests and commands`);
});
client.on("retry", ({ attempt, delayMs }) => log(`reconnect attempt ${attempt} in ${delayMs} ms`));
client.on("gap", (g) => log(g.type === "gap" ? `${g.subscription}: ${g.count} ${g.reason}` : `${g.subscription}: recovery failed (${g.reason}); showing the snapshot`));
client.on("error", (e) => log(`error ${e.code}: ${e.message}`));

// ---- requests: over the socket, or over HTTP on the fallback (the client picks) ----

/** How long a relay command may wait for its controller; the plant's setting, from `request_relays`. */
let commandTtlMs = 4000;

async function refresh(): Promise<void> {
  const t0 = performance.now();
  const via = client.mode;
  try {
    const [d, r, s] = await Promise.all([
      client.request<{ devices: Machine[] }>(METHODS.devices),
      client.request<RelaysAnswer>(METHODS.relays),
      client.request<SystemStats>(METHODS.systemStats),
    ]);
    for (const m of d.devices) showMachine(m);
    commandTtlMs = r.commandTtlMs;
    for (const x of r.relays) showRelay(x);
    showStats(s);
    $("refresh").textContent = `${time(Date.now())} via ${via === "websocket" ? "WebSocket requests" : "HTTP"} (${(performance.now() - t0).toFixed(0)} ms)`;
    $("refresh").dataset.via = via;
  } catch (e) {
    log(`refresh failed: ${(e as Error).message}`);
  }
}
$("refresh-btn").addEventListener("click", () => void refresh());

// ---- machines ----

function showMachine(m: Machine): void {
  const body = $<HTMLTableElement>("devices").tBodies[0]!;
  let row = body.querySelector<HTMLTableRowElement>(`tr[data-id="${m.id}"]`);
  if (!row) {
    row = body.insertRow();
    row.dataset.id = m.id;
    for (let i = 0; i < 7; i++) row.insertCell();
  }
  if (Number(row.dataset.updated ?? 0) > m.updatedAt) return; // an older answer overtaken by a push
  row.dataset.updated = String(m.updatedAt);
  if (row.dataset.status !== m.status) {
    row.classList.remove("flash");
    void row.offsetWidth;
    row.classList.add("flash");
  }
  row.dataset.status = m.status;
  const c = row.cells;
  c[0]!.textContent = m.name;
  c[1]!.textContent = m.line;
  c[2]!.textContent = m.status;
  c[2]!.className = `st-${m.status}`;
  c[3]!.textContent = m.temperature.toFixed(1);
  c[4]!.textContent = m.powerKw.toFixed(1);
  c[5]!.textContent = String(m.cycles);
  c[6]!.textContent = time(m.updatedAt);
}

// ---- relays and commands ----

const relayById = new Map<string, Relay>();

function setCommand(cell: HTMLElement, status: CommandStatus, text: string): void {
  const history = cell.dataset.history ? cell.dataset.history.split(",") : [];
  if (history.at(-1) !== status) history.push(status);
  cell.dataset.history = history.slice(-8).join(",");
  cell.dataset.status = status;
  cell.textContent = text;
}

function commandText(status: CommandStatus, on: boolean, ms?: number, why?: string): string {
  const target = on ? "ON" : "OFF";
  if (status === "pending") return `→ ${target}: pending…`;
  if (status === "acked") return `→ ${target}: acked${ms === undefined ? "" : ` in ${ms} ms`}`;
  return `→ ${target}: ${status}${why ? ` (${why})` : ""}`;
}

/** Codes that are neither tickgate's nor the client's came from the device: a refusal (`command_nack`). */
const isRefusal = (code: string) => !Object.hasOwn(ErrorCode, code) && !Object.hasOwn(ClientErrorCode, code);

function showRelay(r: Relay): void {
  const body = $<HTMLTableElement>("relays").tBodies[0]!;
  let row = body.querySelector<HTMLTableRowElement>(`tr[data-id="${r.id}"]`);
  if (!row) {
    row = body.insertRow();
    row.dataset.id = r.id;
    for (let i = 0; i < 6; i++) row.insertCell();
    row.cells[0]!.textContent = r.id;
    row.cells[1]!.textContent = r.label;
    row.cells[2]!.textContent = `${r.controller} #${r.channel}`;
    row.cells[5]!.className = "cmd";
    const btn = document.createElement("button");
    btn.type = "button";
    btn.dataset.relay = r.id;
    btn.addEventListener("click", () => void toggle(r.id));
    row.cells[4]!.append(btn);
  }
  relayById.set(r.id, r);
  row.dataset.on = String(r.on);
  row.dataset.pending = String(r.pending);
  row.cells[3]!.textContent = r.on ? "ON" : "OFF";
  row.cells[3]!.className = r.on ? "on" : "off";
  row.querySelector("button")!.textContent = r.on ? "Switch off" : "Switch on";
  const lc = r.lastCommand;
  if (lc) setCommand(row.cells[5]!, lc.status, commandText(lc.status, lc.on, lc.ms, lc.code ? `${lc.code}: ${lc.error ?? ""}` : lc.error));
}

/** Sends `set_relay` to the relay's controller and waits for its answer: acked, refused, or no answer within the TTL. */
async function toggle(id: string): Promise<void> {
  const r = relayById.get(id)!;
  const row = $<HTMLTableElement>("relays").querySelector<HTMLTableRowElement>(`tr[data-id="${id}"]`)!;
  const cell = row.cells[5]!;
  const on = !r.on;
  const at = performance.now();
  setCommand(cell, "pending", commandText("pending", on));
  try {
    const ack = await client.command<RelayAck>(r.controller, SET_RELAY, { channel: r.channel, on } satisfies SetRelay, { ttlMs: commandTtlMs });
    const ms = Math.round(performance.now() - at);
    setCommand(cell, "acked", commandText("acked", ack.on, ms));
    log(`${id} → ${ack.on ? "ON" : "OFF"}: acked by ${r.controller} in ${ms} ms (via ${client.mode})`);
  } catch (e) {
    const err = e as TickgateClientError;
    const status: CommandStatus = err.code === ErrorCode.COMMAND_TIMEOUT ? "timeout" : isRefusal(err.code) ? "refused" : "failed";
    setCommand(cell, status, commandText(status, on, undefined, status === "refused" ? `${err.code}: ${err.message}` : err.code));
    log(`${id}: ${err.code}: ${err.message}`);
  }
}

// ---- system stats and controllers ----

function showStats(s: SystemStats): void {
  const ts = $("sys-ts");
  if (Number(ts.dataset.ts) > s.ts) return;
  ts.dataset.ts = String(s.ts);
  ts.dataset.count = String(Number(ts.dataset.count) + 1);
  ts.textContent = time(s.ts);
  $("sys-uptime").textContent = `${s.uptimeSec} s`;
  $("sys-cpu").textContent = `${s.cpuPercent.toFixed(1)} %`;
  $("sys-mem").textContent = `${s.memoryMb.toFixed(1)} MB`;
  $("sys-conns").textContent = String(s.connections);
  $("sys-dash").textContent = String(s.dashboards);
  $("sys-ctrl").textContent = String(s.controllersOnline);
  $("sys-machines").textContent = `${s.machines.running} / ${s.machines.idle} / ${s.machines.fault}`;
  $("sys-relays").textContent = String(s.relaysOn);
}

function showController(p: Presence, meta: Readonly<MessageMeta>): void {
  const id = meta.topic.split(".")[1]!;
  let li = document.getElementById(`ctrl-${id}`);
  if (!li) {
    li = document.createElement("li");
    li.id = `ctrl-${id}`;
    $("controllers").append(li);
  }
  li.dataset.state = p.state;
  li.textContent = id;
  li.title = `${p.state} since ${time(p.ts)}`;
}

// ---- pushes ----

client.subscribe<Machine>(TOPICS.devices, showMachine);
client.subscribe<Relay>(TOPICS.relays, showRelay);
client.subscribe<SystemStats>(TOPICS.systemStats, showStats);
client.subscribe<Presence>(TOPICS.controllers, showController);
client.subscribe<LogLine>(TOPICS.controllerLogs, (l, meta) => {
  const id = meta.topic.split(".")[1]!;
  log(`[${id}] ${l.level}: ${l.message}`);
});

showConnection();
client.connect();
