/**
 * What a remote bench can learn of the server itself: its Prometheus
 * `/metrics` (with auth on, the route needs a token with `tg.admin`). The
 * CPU seconds, resident memory and connection count, summed over every
 * `worker` label, read at a window's edges. When the route cannot be read,
 * {@link MetricsSource.unavailable} says why and the report leaves those
 * columns empty rather than guessing.
 * @module
 */
import type { Target } from "./conn.ts";

export interface ServerSample {
  /** process_cpu_seconds_total, summed over workers. */
  cpuSeconds: number;
  /** process_resident_memory_bytes, summed over workers. */
  rssBytes: number;
  /** tickgate_connections, summed over workers. */
  connections: number;
}

/** Sum of every sample of `name` (any labels) in a Prometheus text exposition; NaN if absent. */
export function sumMetric(text: string, name: string): number {
  let sum = NaN;
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? ([-+0-9.eE]+|NaN)`, "gm");
  for (const m of text.matchAll(re)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[1]);
  return sum;
}

/** The metrics URL a ws:// URL implies: same host and port, http(s), path /metrics. */
export function defaultMetricsUrl(ws: URL): string {
  return `${ws.protocol === "wss:" ? "https:" : "http:"}//${ws.host}/metrics`;
}

export class MetricsSource {
  /** Why server-side figures are missing, or null while they can be read. */
  unavailable: string | null = null;

  constructor(
    readonly url: string | null,
    readonly target: Target,
  ) {
    if (url === null) this.unavailable = "--metrics-url off";
  }

  /** One sample, or null (and {@link unavailable} set) when the route cannot be read. */
  async sample(): Promise<ServerSample | null> {
    if (this.url === null || this.unavailable) return null;
    try {
      const res = await fetch(this.url, { headers: this.target.token ? { authorization: `Bearer ${this.target.token}` } : {}, signal: AbortSignal.timeout(5000) });
      if (!res.ok) {
        this.unavailable = `${this.url} answered ${res.status}${res.status === 401 || res.status === 403 ? " (the token needs tg.admin to read it)" : ""}`;
        return null;
      }
      const text = await res.text();
      const cpuSeconds = sumMetric(text, "process_cpu_seconds_total");
      if (Number.isNaN(cpuSeconds)) {
        this.unavailable = `${this.url} has no process_cpu_seconds_total`;
        return null;
      }
      return { cpuSeconds, rssBytes: sumMetric(text, "process_resident_memory_bytes"), connections: sumMetric(text, "tickgate_connections") };
    } catch (e) {
      this.unavailable = `${this.url} unreachable (${(e as Error).message})`;
      return null;
    }
  }
}
