/**
 * One measured window of the tickgate bench server (bench/servers/tickgate.ts,
 * with a scenario's flags) against the scenario subscriber client
 * (bench/scenarios/clients/subscribers.ts): the variants that only tickgate
 * has (history, auth, topics, filters, slow readers) measured exactly as the
 * peer comparison is, through {@link measureWindow}.
 * @module
 */
import { Child } from "./child.ts";
import { fdLimitPrefix } from "./proc.ts";
import type { RunResult } from "./report.ts";
import type { RunEnv } from "./scenario.ts";
import { measureWindow } from "./window.ts";

const SERVER = `${import.meta.dir}/../servers/tickgate.ts`;
const CLIENT = `${import.meta.dir}/../scenarios/clients/subscribers.ts`;

export interface TickgateRun {
  label: string;
  round: number;
  /** Connections the client opens (subscribers + wildcards), for the fd limit. */
  conns: number;
  /** Subscribers each publication reaches, for publications/s; 0 when it varies. */
  fanout: number;
  serverArgs: string[];
  clientArgs: string[];
  /** Client script; default the raw-TCP scenario subscribers. It gets --port and --credit-port first. */
  client?: string;
  rate: number;
  batch: number;
  window: number;
  warmup: number;
  seconds: number;
  /** Runs after the client is ready, before publishing starts (e.g. pause the slow readers). */
  before?: (server: Child, client: Child) => Promise<void>;
  /** Runs after the window, before both stop; what it returns lands in the result's `extra`. */
  after?: (ctx: { server: Child; client: Child; port: number }) => Promise<Record<string, unknown>>;
}

/** Starts both processes pinned to their cores, measures one window, stops both. */
export async function runTickgate(spec: TickgateRun, env: RunEnv): Promise<RunResult> {
  const fd = fdLimitPrefix(spec.conns + 256).prefix;
  const server = new Child(`tickgate server (${spec.label})`, [...fd, ...env.place.server, process.execPath, SERVER, ...spec.serverArgs]);
  try {
    const info = await server.next((o) => o.ready === true, 20_000);
    const client = new Child(`subscribers (${spec.label})`, [
      ...fd, ...env.place.client, process.execPath, spec.client ?? CLIENT,
      "--port", String(info.port), "--credit-port", String(info.creditPort),
      "--credit-step", String(Math.max(1, Math.min(spec.window, 1 << 20) >> 2)), ...spec.clientArgs,
    ]);
    try {
      const ready = await client.next((o) => o.ready === true, 120_000);
      await spec.before?.(server, client);
      const r = await measureWindow(server, client, ready, {
        label: spec.label, round: spec.round, fanout: spec.fanout, warmup: spec.warmup, seconds: spec.seconds,
        rate: spec.rate, batch: spec.batch, window: spec.window, hz: env.hz,
      });
      if (spec.after) r.extra = await spec.after({ server, client, port: info.port as number });
      return r;
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

/** A paced run's window: never full, so the rate alone sets the pace. */
export const NO_WINDOW = 1 << 30;

/** GET or POST one of the bench server's /bench routes (bench/servers/tickgate.ts). */
export async function benchRoute(port: number, method: "GET" | "POST", path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** `(max − min) ÷ median` of a figure over rounds: the spread a median hides. */
export function relativeSpread(xs: number[]): number {
  if (xs.length < 2) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const med = s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  return (s[s.length - 1]! - s[0]!) / med;
}
