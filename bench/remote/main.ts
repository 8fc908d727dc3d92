/**
 * `tickgate bench --url ws://host:port/ws [scenario...]`: the bench against
 * a tickgate someone else started (a staging deployment, its own config and
 * auth), like `nats bench`. Runs the remote scenarios (bench/remote/
 * scenarios.ts), prints the same kind of report as `bun run bench`, writes
 * results.json / results.md / chart.svg, and judges a baseline with
 * `--compare`. Also `tickgate bench compare A.json B.json`. Runs on Node and
 * on Bun: it is what the package ships of the bench (built into dist/bench).
 * Its load must only ever target servers you run.
 * @module
 */
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { BenchExit, compareMetrics, compareTable, EXIT_CODES_TEXT, loadResults, verdictOf, type SuiteMetrics } from "../lib/compare.ts";
import { runCompare } from "../lib/compare-cli.ts";
import { stampResult } from "../lib/points.ts";
import { Progress } from "../lib/progress.ts";
import { textTable } from "../lib/render.ts";
import { machineLine, summaryTable, writeResults, type SuiteResults } from "../lib/results.ts";
import { Flags, type RunEnv, type ScenarioResult } from "../lib/scenario.ts";
import { helpText, parseSuiteArgs, type SuiteFlag } from "../lib/suite-args.ts";
import { packr, unpackr } from "../../src/protocol/codec.ts";
import type { WsConn } from "../load/ws-conn.ts";
import { openConn, parseTarget, safeUrl, type Target } from "./conn.ts";
import { defaultMetricsUrl, MetricsSource } from "./server-metrics.ts";
import { remoteScenarios } from "./scenarios.ts";

export const REMOTE_FLAGS: readonly SuiteFlag[] = [
  { name: "url", value: "URL", help: "the running tickgate's WebSocket URL, ws://host:port/ws or wss://… (required for a run)" },
  { name: "token", value: "TOKEN", help: "bearer token for every connection and /metrics (env TICKGATE_TOKEN); must grant subscribe and publish on <prefix>>" },
  { name: "prefix", value: "PREFIX", help: "every bench topic starts with it (default bench.)" },
  { name: "metrics-url", value: "URL", help: "the server's Prometheus metrics (default http(s)://host:port/metrics of --url; 'off' to skip)" },
];

const USAGE = [
  "tickgate bench --url ws://host:port/ws [--token TOKEN] [--prefix bench.] [scenario...] [--quick] [--out DIR]",
  "               [--compare BASELINE.json] [--tolerance PCT] [scenario flags]",
  "tickgate bench compare BASELINE.json CURRENT.json [--tolerance PCT]",
  "tickgate bench [scenario...] [flags]        (no --url, in a checkout: the local suite, `bun run bench`)",
  "",
  "  With --url, drives an already running tickgate through its client protocol: subscribers",
  "  send `sub` and wait for the ack, publishers send `pub` frames. Scenarios: fanout, topics,",
  "  ingest, connections (all four when none is named). It measures from the client side",
  "  (deliveries/s, latency percentiles, losses, connect rate) and reads server CPU and memory",
  "  from /metrics when it can (with auth on, that needs a token with tg.admin).",
  "  Only point it at servers you run: it is a load generator.",
];

/** The help text, built from the same flag and scenario definitions the run parses. */
export function remoteHelp(): string {
  return helpText(remoteScenarios(DUMMY), { usage: USAGE, extraFlags: REMOTE_FLAGS, exitCodes: EXIT_CODES_TEXT });
}

const DUMMY = { target: { url: new URL("ws://127.0.0.1/ws") }, metrics: new MetricsSource(null, { url: new URL("ws://127.0.0.1/ws") }), prefix: "bench." };

function stamp(d: Date): string {
  return d.toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19);
}

/** This machine, in the shape results files carry (the client's machine: the server's is unknown). */
function clientMachine(): SuiteResults["machine"] {
  const c = cpus();
  const bun = (process.versions as Record<string, string | undefined>).bun;
  return { cpus: c.length, model: c[0]?.model ?? "unknown", kernel: release(), bun: bun ?? "absent", node: `v${process.versions.node}`, memTotalGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, fdHardLimit: NaN, date: new Date().toISOString() };
}

/**
 * One connection that subscribes to `<prefix>probe`: a clear one-line
 * failure before any scenario when the server is not there, refuses the
 * token, or the token does not grant the bench topics.
 */
async function probe(t: Target, prefix: string): Promise<void> {
  const topic = `${prefix}probe`;
  let conn: Promise<WsConn> | undefined;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to a sub on ${topic} within 10 s`)), 10_000);
    const done = (e?: Error) => {
      clearTimeout(timer);
      conn?.then((c) => c.socket?.end(), () => {});
      if (e) reject(e);
      else resolve();
    };
    conn = openConn(t, 0, {
      frame: (c, buf, start, end) => {
        const f = unpackr.unpack(buf.subarray(start, end)) as { t?: string; code?: string; message?: string };
        if (f.t === "welcome") c.send(2, packr.pack({ t: "sub", id: 1, topic }));
        else if (f.t === "ack") done();
        else if (f.t === "error") done(new Error(`sub ${topic} refused: ${f.code ?? "error"}: ${f.message}${f.code === "FORBIDDEN" ? ` (the token must grant subscribe and publish on ${prefix}>)` : ""}`));
      },
      control: () => {},
      failed: (_c, why) => done(new Error(why)),
    });
    conn.catch((e: Error) => done(e));
  });
}

/** Runs the remote bench with `argv` (after `bench`); resolves to the exit code. `out`/`err` take whole lines. */
export async function runRemote(argv: string[], env: Record<string, string | undefined> = process.env, out: (s: string) => void = console.log, err: (s: string) => void = console.error): Promise<number> {
  if (argv[0] === "compare") return runCompare(argv.slice(1), out, err, "tickgate bench");
  const dummyScenarios = remoteScenarios(DUMMY);
  let args: ReturnType<typeof parseSuiteArgs>;
  let target: Target;
  let baseline: SuiteMetrics | null = null;
  try {
    args = parseSuiteArgs(argv, dummyScenarios, REMOTE_FLAGS);
    if (args.help) {
      out(remoteHelp());
      return BenchExit.OK;
    }
    if (args.list) {
      out(dummyScenarios.map((s) => `${s.name.padEnd(12)} ${s.describe}`).join("\n"));
      return BenchExit.OK;
    }
    const url = args.extra.get("url");
    if (!url) throw new Error("--url is required: the WebSocket URL of the running tickgate, e.g. --url ws://staging.example:8080/ws");
    target = parseTarget(url, args.extra.get("token") ?? env.TICKGATE_TOKEN);
    const prefix = args.extra.get("prefix") ?? "bench.";
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.$/.test(prefix)) throw new Error(`--prefix must be topic segments ending in a dot, such as bench. or staging.bench., got '${prefix}'`);
    if (args.compare) baseline = loadResults(args.compare);
  } catch (e) {
    err(`tickgate bench: ${(e as Error).message.split("\n")[0]}`);
    return BenchExit.USAGE;
  }
  const prefix = args.extra.get("prefix") ?? "bench.";
  const metricsRaw = args.extra.get("metrics-url") ?? defaultMetricsUrl(target.url);
  const metrics = new MetricsSource(metricsRaw === "off" ? null : metricsRaw, target);
  const scenarios = remoteScenarios({ target, metrics, prefix });
  const selected = args.scenarios.map((s) => scenarios.find((x) => x.name === s.name)!);

  try {
    await probe(target, prefix);
  } catch (e) {
    err(`tickgate bench: cannot use ${safeUrl(target.url)}: ${(e as Error).message}`);
    return BenchExit.FAILED;
  }
  const started = new Date();
  const m = clientMachine();
  const progress = new Progress();
  out(`tickgate bench against ${safeUrl(target.url)}: ${selected.map((s) => s.name).join(", ")}${args.quick ? " (--quick)" : ""}; topics ${prefix}*; ${target.token ? "with a token" : "no token"}`);
  out(`client machine: ${machineLine(m)}`);
  const s0 = await metrics.sample();
  out(s0 ? `server figures from ${metrics.url}` : `server figures unavailable: ${metrics.unavailable}`);

  const results: SuiteResults = { command: `tickgate bench ${redact(argv).join(" ")}`, machine: m, placement: `remote: ${safeUrl(target.url)} (client unpinned)`, quick: args.quick, startedAt: started.toISOString(), seconds: 0, scenarios: [], failed: [] };
  const env0: RunEnv = { place: { server: [], client: [], pinned: false, note: "remote" }, hz: 100 };
  for (const sc of selected) {
    const flags = new Flags(sc.name, sc.flags, args.flags.get(sc.name)!, args.quick);
    const t0 = performance.now();
    out(`\n== ${sc.name}: ${sc.describe}`);
    try {
      const r = await sc.run({ flags, quick: args.quick, env: env0, progress });
      progress.end();
      const full: ScenarioResult = { scenario: sc.name, describe: sc.describe, config: flags.effective(), seconds: (performance.now() - t0) / 1000, ...r };
      stampResult(full, args.quick);
      results.scenarios.push(full);
      for (const t of full.tables) out("\n" + textTable(t));
      for (const n of full.notes) out(`note: ${n}`);
    } catch (e) {
      progress.end();
      err(`${sc.name} FAILED: ${(e as Error).message}`);
      results.failed.push({ scenario: sc.name, error: (e as Error).message });
    }
  }
  results.seconds = (Date.now() - started.getTime()) / 1000;
  let exitCode: number = results.failed.length > 0 ? BenchExit.FAILED : BenchExit.OK;
  if (args.compare && baseline) {
    const rows = compareMetrics(results, baseline, args.tolerance);
    const v = verdictOf(rows);
    results.compare = { baseline: args.compare, tolerance: args.tolerance, rows, regressions: v.regressions, verdict: v.line, exitCode: v.exitCode };
    out("\n" + textTable(compareTable(rows, args.tolerance, args.compare)));
    out(v.line);
    if (exitCode === BenchExit.OK) exitCode = v.exitCode;
  }
  out("\n" + textTable(summaryTable(results)));
  const dir = args.out ?? join(process.cwd(), "bench-results", stamp(started));
  out(`\nwrote ${writeResults(dir, results).join(", ")}`);
  return exitCode;
}

/** The command line as it may be saved: the token's value replaced. */
function redact(argv: string[]): string[] {
  return argv.map((a, i) => (argv[i - 1] === "--token" ? "***" : a.startsWith("--token=") ? "--token=***" : a));
}
