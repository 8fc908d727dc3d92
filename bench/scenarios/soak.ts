/**
 * `soak`: a real tickgate server process (`tickgate serve`, pinned to core
 * 0) under everything at once for `--minutes` (clients/soak-churn.ts on
 * core 1): connections and subscriptions churning, topics created and
 * abandoned, publishers, slow and dead raw-TCP readers, reconnects with
 * recovery, HTTP publishes and SSE streams. Every `--sample` seconds it
 * reads the server's RSS and open descriptors from /proc and its heap,
 * topics, sessions and subscriptions from /stats. After the warm-up (the
 * first half) each series is judged by a least-squares fit: flat when the
 * drift it predicts over the judged half stays within `--tolerance` % of
 * the series' mean there (or a small absolute floor). Crashes, errors seen
 * by correct clients, and losses must all be zero. Runs only when named.
 * @module
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Child } from "../lib/child.ts";
import { fdLimitPrefix } from "../lib/proc.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext, type Table } from "../lib/scenario.ts";
import type { TimeSeries } from "../lib/series-svg.ts";
import { check } from "../lib/targets.ts";
import { startServer, type ServerProc } from "./clients/soak-server.ts";

const ROOT = join(import.meta.dir, "../..");
const CHURN = join(import.meta.dir, "clients/soak-churn.ts");

/**
 * What the server is run with: history for the recovering topics, a strict
 * policy for the firehose. The recovering topics' history is also bounded by
 * age: by count alone their four rings (~40 publications a second, ~700
 * bytes each held) fill for about 18 minutes, which a soak reads as a leak;
 * 60 s fills within any run's warm-up and still covers every reconnect.
 */
export const SOAK_CONFIG = {
  idleTimeoutSec: 20,
  policies: [
    { match: "soak.rec.>", historySize: 10_000, historyTtlMs: 60_000, retain: true },
    { match: "soak.http.>", historySize: 1000 },
    { match: "soak.fire", action: "disconnect", limitBytes: 256 * 1024 },
  ],
};

interface Sample {
  t: number;
  rss: number;
  heap: number;
  fds: number;
  topics: number;
  sessions: number;
  subscriptions: number;
  connections: number;
}

const SERIES: { key: keyof Sample; name: string; unit: string; floor: number }[] = [
  { key: "rss", name: "RSS", unit: "bytes", floor: 8 * 1024 * 1024 },
  { key: "heap", name: "heap used", unit: "bytes", floor: 8 * 1024 * 1024 },
  { key: "fds", name: "open file descriptors", unit: "count", floor: 16 },
  { key: "topics", name: "topics", unit: "count", floor: 16 },
  { key: "sessions", name: "sessions", unit: "count", floor: 16 },
  { key: "subscriptions", name: "subscriptions", unit: "count", floor: 32 },
];

/** Least-squares line through the points: value at the first x, and slope. */
export function fit(points: [number, number][]): { at: number; slope: number; mean: number } {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { at: my + slope * (points[0]![0] - mx), slope, mean: my };
}

async function sample(server: ServerProc, t0: number): Promise<Sample> {
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const fds = readdirSync(`/proc/${server.pid}/fd`).length;
  const res = await fetch(`${server.url}/stats?top=0`);
  if (!res.ok) throw new Error(`/stats answered ${res.status}`);
  const s = (await res.json()) as { memory: { heapUsed: number }; topics: number; sessions: Record<string, number>; subscriptions: number; connections: number };
  return {
    t: (performance.now() - t0) / 1000,
    rss: rssKiB * 1024,
    heap: s.memory.heapUsed,
    fds,
    topics: s.topics,
    sessions: Object.values(s.sessions).reduce((a, b) => a + b, 0),
    subscriptions: s.subscriptions,
    connections: s.connections,
  };
}

export const soakScenario: Scenario = {
  name: "soak",
  describe: "a real server under churn of everything for N minutes: resources sampled and judged flat, zero crashes, errors and losses (on demand)",
  onDemand: true,
  flags: [
    { name: "minutes", def: "10", quick: "1", help: "how long the load runs" },
    { name: "seconds", def: "0", help: "overrides --minutes when > 0 (short runs for tests)" },
    { name: "sample", def: "5", quick: "2", help: "seconds between samples of the server" },
    { name: "tolerance", def: "10", help: "% of a series' mean its fitted drift over the judged half may reach and still be flat" },
    { name: "churn", def: "16", help: "SDK clients that connect, subscribe, publish to a new topic and close, in a loop" },
    { name: "slow", def: "3", help: "raw-TCP readers that subscribe to the firehose and stop reading" },
    { name: "dead", def: "3", help: "raw-TCP readers that never answer a ping" },
    { name: "sse", def: "2", help: "SSE streams, opened and aborted in a loop" },
    { name: "http-rate", def: "20", help: "HTTP POST /api/publish per second" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const seconds = f.num("seconds", 0, 86_400) > 0 ? f.num("seconds", 0, 86_400) : f.num("minutes", 0.05, 1440) * 60;
    const every = Math.min(f.num("sample", 0.2, 600), Math.max(0.2, seconds / 10));
    const tolerance = f.num("tolerance", 0, 1000) / 100;
    const dir = mkdtempSync(join(tmpdir(), "tickgate-soak-"));
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify(SOAK_CONFIG));
    const fd = fdLimitPrefix(4096);
    ctx.progress.begin("soak", Math.ceil(seconds / every));
    const server = await startServer([...fd.prefix, ...ctx.env.place.server, process.execPath, join(ROOT, "src/cli/main.ts"), "serve", "--port", "0", "--no-demo", "--config", config, "--log-level", "warn"]);
    const samples: Sample[] = [];
    const sampleErrors: string[] = [];
    let load: Child | null = null;
    let crashed: string | null = null;
    let totals: Record<string, unknown> & { errors: number; errorSamples: string[]; recovery: Record<string, number>; sse: Record<string, number> };
    try {
      const t0 = performance.now();
      samples.push(await sample(server, t0));
      load = new Child("soak load", [
        ...fd.prefix, ...ctx.env.place.client, process.execPath, CHURN, "--port", String(server.port), "--seconds", String(seconds),
        "--churn", String(f.int("churn", 0, 1000)), "--slow", String(f.int("slow", 0, 100)), "--dead", String(f.int("dead", 0, 100)),
        "--sse", String(f.int("sse", 0, 100)), "--http-rate", String(f.int("http-rate", 0, 1000)),
      ]);
      await load.next((o) => o.ready === true, 30_000);
      const loadEnd = performance.now() + seconds * 1000;
      const done = load.next((o) => o.done === true, (seconds + 60) * 1000);
      let finished = false;
      void done.then(() => (finished = true), () => (finished = true));
      // Samples are taken while the load runs, not while it winds down and settles.
      while (!finished && performance.now() + every * 1000 <= loadEnd + 100) {
        await Promise.race([done.catch(() => {}), Bun.sleep(every * 1000)]);
        if (server.exitCode() !== null) {
          crashed = `server exited with ${server.exitCode()} during the run; stderr: ${server.stderr().slice(-1500)}`;
          break;
        }
        if (finished) break;
        try {
          const s = await sample(server, t0);
          samples.push(s);
          ctx.progress.step(`${fmt.int(s.t)} s: RSS ${fmt.kib(s.rss / 1024)}, heap ${fmt.kib(s.heap / 1024)}, ${s.fds} fds, ${fmt.int(s.topics)} topics, ${s.sessions} sessions, ${s.subscriptions} subscriptions`);
        } catch (e) {
          sampleErrors.push((e as Error).message);
        }
      }
      if (crashed) throw new Error(crashed);
      totals = (await done) as typeof totals;
    } finally {
      await load?.stop();
      const code = await server.stop();
      rmSync(dir, { recursive: true, force: true });
      if (!crashed && code !== 0) crashed = `server exited ${code} on SIGTERM; stderr: ${server.stderr().slice(-1500)}`;
    }
    if (crashed) throw new Error(crashed);

    // Judge the second half of the run (the first is warm-up).
    const end = samples.at(-1)!.t;
    const from = end / 2;
    const judged = samples.filter((s) => s.t >= from);
    const series: TimeSeries[] = [];
    const rows: string[][] = [];
    let growing = 0;
    for (const d of SERIES) {
      const pts = samples.map((s) => [s.t, s[d.key]] as [number, number]);
      const jp = judged.map((s) => [s.t, s[d.key]] as [number, number]);
      const ft = jp.length >= 2 ? fit(jp) : null;
      const drift = ft ? ft.slope * (end - jp[0]![0]) : NaN;
      const bound = ft ? Math.max(tolerance * Math.abs(ft.mean), d.floor) : NaN;
      const verdict = !ft ? "too few samples" : Math.abs(drift) <= bound ? "flat" : drift > 0 ? "growing" : "shrinking";
      if (verdict !== "flat") growing++;
      const show = (v: number) => (d.unit === "bytes" ? fmt.kib(v / 1024) : fmt.int(v));
      series.push({ name: d.name, unit: d.unit, points: pts, judgedFrom: jp[0]?.[0] ?? 0, ...(ft ? { fit: { at: ft.at, slope: ft.slope } } : {}), verdict: `${verdict} (drift ${show(drift)} over the judged half, bound ±${show(bound)})` });
      const vs = pts.map((p) => p[1]);
      rows.push([d.name, show(vs[0]!), show(Math.min(...vs)), show(Math.max(...vs)), show(vs.at(-1)!), ft ? show(ft.mean) : "-", ft ? `${d.unit === "bytes" ? fmt.kib((ft.slope * 60) / 1024) : fmt.f(ft.slope * 60, 1)}/min` : "-", show(drift), `±${show(bound)}`, verdict]);
    }
    const rec = totals.recovery;
    const lost = rec.lost! + rec.dup! + rec.gapEvents! + rec.epochChanges! + rec.tailMissing! + totals.sse.lost! + totals.sse.dup!;
    res.tables.push({
      title: `soak: server resources over ${fmt.int(end)} s, ${samples.length} samples every ${every} s; judged over the second half`,
      columns: ["series", "first", "min", "max", "last", "mean (judged)", "slope", "drift (judged)", "bound", "verdict"],
      rows,
      notes: [
        `flat: the least-squares line over the second half moves by at most ${(tolerance * 100).toFixed(0)}% of the series' mean there (or the floor: 8 MiB for memory, 16 descriptors/topics/sessions, 32 subscriptions).`,
        "topics: abandoned topics are evicted after topicLimits.idleMs (60 s by default) without subscribers or publications, so the series levels off once the first ones expire.",
      ],
    });
    res.tables.push({
      title: "soak: load and what correct clients saw",
      columns: ["what", "count"],
      rows: [
        ["WebSocket clients opened (SDK)", fmt.int(totals.wsOpened as number)],
        ["churn cycles (connect, 2 subs, publish to a new topic, close)", fmt.int(totals.churnCycles as number)],
        ["publications (WebSocket, acked)", fmt.int(totals.published as number)],
        ["HTTP publishes (2xx)", fmt.int(totals.httpPublished as number)],
        ["recovering subscribers: reconnects", fmt.int(rec.reconnects!)],
        ["recovering subscribers: deliveries checked", fmt.int(rec.delivered!)],
        ["SSE streams opened / deliveries checked", `${fmt.int(totals.sse.streams!)} / ${fmt.int(totals.sse.delivered!)}`],
        ["slow readers: started / closed by the server", `${fmt.int((totals.slow as Record<string, number>).started!)} / ${fmt.int((totals.slow as Record<string, number>).closedByServer!)}`],
        ["dead readers: started / closed by the server", `${fmt.int((totals.dead as Record<string, number>).started!)} / ${fmt.int((totals.dead as Record<string, number>).closedByServer!)}`],
        ["crashes", "0"],
        ["errors seen by correct clients", fmt.int(totals.errors)],
        ["lost, duplicated or out of order (recovery, SSE)", fmt.int(lost)],
      ],
      ...(totals.errorSamples.length ? { notes: totals.errorSamples.slice(0, 10) } : {}),
    });
    res.targets.push(check("soak.crashes", 0), check("soak.client_errors", totals.errors), check("soak.lost", lost), check("soak.series_not_flat", growing, growing ? series.filter((s) => !s.verdict.startsWith("flat")).map((s) => s.name).join(", ") : undefined));
    res.metrics.push({ id: "soak.rss_end_mib", value: samples.at(-1)!.rss / 2 ** 20, better: "lower", describe: "server RSS at the end of the soak, MiB" });
    res.series = series;
    res.headline = `${fmt.int(end)} s: ${series.map((s) => `${s.name} ${s.verdict.split(" ")[0]}`).join(", ")}; 0 crashes, ${totals.errors} errors, ${lost} lost`;
    for (const e of sampleErrors.slice(0, 5)) res.notes.push(`a sample failed: ${e}`);
    res.data = { seconds: end, every, tolerance, samples, verdicts: Object.fromEntries(series.map((s) => [s.name, s.verdict.split(" ")[0]])), crashes: 0, errors: totals.errors, lost, load: totals, placement: ctx.env.place.note, fdLimit: fd.note };
    return res;
  },
};
