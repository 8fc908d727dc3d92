/**
 * `bun run bench --quick`: every scenario runs in its small form, once, and
 * its numbers are sane — nothing lost or duplicated at the fixed moderate
 * rates quick mode uses, percentiles in order, counts that agree with each
 * other. Speed is never asserted: the machine is small and shared.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultPeers, PEERS } from "../../bench/lib/peers.ts";
import type { Latency, RunResult } from "../../bench/lib/report.ts";
import type { SuiteResults } from "../../bench/lib/results.ts";
import type { ScenarioResult } from "../../bench/lib/scenario.ts";

const ROOT = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "tickgate-suite-"));
let results: SuiteResults;
let stdout = "";
let code: number | null = null;

async function bench(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, join(ROOT, "bench/run.ts"), ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [c, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(killer);
  return { code: c, stdout: out, stderr: err };
}

beforeAll(async () => {
  // Generous bounds: on a busy machine the quick suite takes several times its usual minute.
  const r = await bench(["--quick", "--out", dir], 420_000);
  code = r.code;
  stdout = r.stdout;
  if (r.code !== 0) console.error(r.stdout.slice(-3000), r.stderr.slice(-3000));
  results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as SuiteResults;
}, 430_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scenario = (name: string): ScenarioResult => {
  const s = results.scenarios.find((x) => x.scenario === name);
  if (!s) throw new Error(`${name} missing; failed: ${JSON.stringify(results.failed)}`);
  return s;
};

function ordered(l: Latency | undefined, where: string): void {
  expect(l, where).toBeDefined();
  expect(l!.samples, where).toBeGreaterThan(0);
  const seq = [l!.p50, l!.p90 ?? l!.p50, l!.p99, l!.p999];
  for (let i = 1; i < seq.length; i++) expect(seq[i]!, `${where}: ${JSON.stringify(l)}`).toBeGreaterThanOrEqual(seq[i - 1]!);
  // HDR reports a percentile as the top of its bucket (3 significant digits): it may pass the exact max by < 0.1%.
  expect(l!.max * 1.001 + 1, `${where}: ${JSON.stringify(l)}`).toBeGreaterThanOrEqual(l!.p999);
}

/** A measured window at a fixed moderate rate: everything arrived once, nothing broke. */
function clean(r: RunResult, where = `${r.server}: ${JSON.stringify(r).slice(0, 600)}`): void {
  expect(r.deliveries, where).toBeGreaterThan(0);
  expect(r.published, where).toBeGreaterThan(0);
  expect(r.lost, where).toBe(0);
  expect(r.dup, where).toBe(0);
  expect(r.malformed + r.gapFrames + r.errorFrames + r.closedConns + (r.unexpected ?? 0), where).toBe(0);
  expect(r.serverCpuUsPerDelivery, where).toBeGreaterThan(0);
  ordered(r.latencyUs, where);
}

describe("bun run bench --quick", () => {
  test("runs every scenario, prints a summary and writes json, markdown and svg", () => {
    expect(code).toBe(0);
    expect(results.failed).toEqual([]);
    expect(results.scenarios.map((s) => s.scenario)).toEqual(["fanout", "topics", "filters", "ingest", "connections", "slow", "encodings", "linger", "recovery", "cluster"]);
    expect(stdout).toContain("▸ [fanout");
    expect(stdout).toMatch(/summary\n/);
    expect(results.machine).toMatchObject({ cpus: expect.any(Number), model: expect.any(String), kernel: expect.any(String), bun: Bun.version, date: expect.any(String) });
    expect(results.seconds).toBeGreaterThan(0);
    const md = readFileSync(join(dir, "results.md"), "utf8");
    for (const s of results.scenarios) expect(md).toContain(`## ${s.scenario}`);
    expect(readFileSync(join(dir, "chart.svg"), "utf8")).toContain("tickgate");
    // Every target verdict is one of three words, never silently missing.
    for (const s of results.scenarios) for (const t of s.targets) expect(["met", "not met", "not measured"]).toContain(t.verdict);
  });

  test("fanout: every peer ran or is reported unavailable; variants ran; nothing lost", () => {
    const s = scenario("fanout");
    const ran = new Set(s.runs.map((r) => r.server));
    const unavailable = s.data.unavailable as Record<string, string>;
    for (const p of defaultPeers()) expect(ran.has(p) || p in unavailable, p).toBe(true);
    // A peer run on request only is not in a default run.
    for (const p of Object.keys(PEERS).filter((k) => PEERS[k]!.onRequest)) expect(ran.has(p), p).toBe(false);
    for (const v of ["tickgate+history", "tickgate+auth"]) expect(ran.has(v)).toBe(true);
    // tickgate through its client protocol too: a client publisher's pub frames, clean like every row.
    expect(ran.has("tickgate-pub")).toBe(true);
    for (const r of s.runs) {
      // Paced or at max rate (the credit path): every publication reached every subscriber once.
      // How fast is the bench's business, not the test's: a busy machine publishes fewer.
      clean(r);
    }
    expect(s.targets.map((t) => t.id)).toContain("fanout.history_cost");
  });

  test("topics: no loss, nothing stray, deliveries per publication as subscribed", () => {
    const s = scenario("topics");
    const fanout = s.data.fanout as number;
    expect(fanout).toBe((100 * 6) / 200 + 2);
    // No loss, nothing on a stream nobody asked for (clean counts `unexpected`), so each
    // publication reached its subscribers; rates are not compared (a busy machine is slower).
    for (const r of s.runs) clean(r);
  });

  test("filters: every variant clean: no loss, no publication on a filter that should not pass", () => {
    const s = scenario("filters");
    expect(s.runs.map((r) => r.server).sort()).toEqual(["all-pass", "one-pass", "unfiltered"]);
    for (const r of s.runs) clean(r);
    // Which subscribers a publication reached is checked per subscriber by clean() (no loss,
    // nothing `unexpected`); window counts are not compared (their edges move under load).
  });

  test("ingest: every device publication accepted and delivered once; HTTP counts agree", () => {
    const s = scenario("ingest");
    const d = s.data.devices as { lost: number; dup: number; errorFrames: number; closedConns: number; published: number; latencyUs: Latency; acceptedPerSec: number };
    expect(d).toMatchObject({ lost: 0, dup: 0, errorFrames: 0, closedConns: 0 });
    expect(d.published).toBeGreaterThan(0);
    ordered(d.latencyUs, "ingest devices");
    // Max rate, tickgate and nats-server in the same run: both clean, both measured per core.
    const max = s.data.max as { runs: { server: string; lost: number; dup: number; errorFrames: number; closedConns: number; published: number; pubsPerCore: number; serverUsPerPublication: number }[] };
    const natsHere = PEERS.nats!.unavailable() === null;
    expect(new Set(max.runs.map((r) => r.server))).toEqual(new Set(natsHere ? ["tickgate", "nats"] : ["tickgate"]));
    for (const r of max.runs) {
      expect(r, r.server).toMatchObject({ lost: 0, dup: 0, errorFrames: 0, closedConns: 0 });
      expect(r.published, r.server).toBeGreaterThan(0);
      expect(r.pubsPerCore, r.server).toBeGreaterThan(0);
      expect(r.serverUsPerPublication, r.server).toBeGreaterThan(0);
    }
    const t = s.targets.find((x) => x.id === "ingest.pubs_per_core_vs_nats");
    if (natsHere) expect(["met", "not met"]).toContain(t!.verdict);
    else expect(t?.verdict).toBe("not measured");
    const h = s.data.http as { ok: number; non2xx: number; errors: number; accepted: number; delivered: number; connections: number } | undefined;
    if (h) {
      expect(h).toMatchObject({ non2xx: 0, errors: 0 });
      expect(h.ok).toBeGreaterThan(0);
      expect(h.delivered).toBe(h.accepted);
      // autocannon stops counting with up to one request per connection still in flight.
      expect(h.accepted - h.ok).toBeGreaterThanOrEqual(0);
      expect(h.accepted - h.ok).toBeLessThanOrEqual(h.connections);
    } else expect(s.notes.join(" ")).toContain("HTTP publish not measured");
  });

  test("connections: the target was opened and held, the server counts the same, memory per connection measured", () => {
    const s = scenario("connections");
    const d = s.data as { target: number; ramp: { open: number; failed: number; stoppedBy: string }; held: number; serverSees: number; perConnKiB: number };
    expect(d.ramp).toMatchObject({ open: d.target, failed: 0, stoppedBy: "target" });
    expect(d.held).toBe(d.target);
    expect(d.serverSees).toBe(d.target);
    expect(d.perConnKiB).toBeGreaterThan(0);
    expect(d.perConnKiB).toBeLessThan(256);
    expect(s.targets.find((t) => t.id === "connections.memory_per_idle_connection")?.value).toBeCloseTo(d.perConnKiB, 6);
  });

  test("slow: readers that keep reading lose nothing; the paused ones are counted apart", () => {
    const s = scenario("slow");
    const [all, paused] = s.runs;
    clean(all!);
    clean(paused!);
    expect(all!.slow!.conns).toBe(0);
    expect(paused!.slow!.conns).toBe((s.data.subs as number) / 10);
    expect(paused!.serverHwmKiB).toBeGreaterThan(0);
  });

  test("encodings: all four variants and the batch-frame pair clean, bytes on the wire measured", () => {
    const s = scenario("encodings");
    expect(s.runs.map((r) => r.server).sort()).toEqual(["json", "json+deflate", "msgpack", "msgpack batch @ max", "msgpack plain @ max", "msgpack+deflate"]);
    for (const r of s.runs) {
      clean(r);
      expect(r.octetsPerDelivery).toBeGreaterThan(0);
    }
    expect(s.targets.map((t) => t.id)).toContain("encodings.batch_deliveries_vs_plain");
  });

  test("recovery: every missed publication comes back once, in order, and the times add up", () => {
    const s = scenario("recovery");
    const rounds = s.data.rounds as { count: number; received: number; recovered: number; outOfOrder: number; dup: number; gaps: number; backToFirstMs: number; backToDoneMs: number; lostToDoneMs: number }[];
    expect(rounds.length).toBe(2);
    for (const r of rounds) {
      expect(r).toMatchObject({ received: r.count, recovered: r.count, outOfOrder: 0, dup: 0, gaps: 0 });
      expect(r.backToFirstMs).toBeGreaterThan(0);
      expect(r.backToFirstMs).toBeLessThanOrEqual(r.backToDoneMs);
      expect(r.backToDoneMs).toBeLessThanOrEqual(r.lostToDoneMs);
    }
  });

  test("--compare flags a metric that got worse than the tolerance and exits 3", async () => {
    // The run itself as the baseline, with recovery made to look a thousand times as fast as
    // it was: this run is worse than that however busy the machine was during either.
    const baseline = JSON.parse(JSON.stringify(results)) as SuiteResults;
    const m = baseline.scenarios.find((s) => s.scenario === "recovery")!.metrics.find((x) => x.id === "recovery.msgs_per_sec")!;
    m.value *= 1000;
    const file = join(dir, "baseline.json");
    writeFileSync(file, JSON.stringify(baseline));
    const r = await bench(["recovery", "--quick", "--compare", file, "--tolerance", "10", "--out", join(dir, "cmp")], 180_000);
    expect({ code: r.code, err: r.stderr.slice(-500) }).toMatchObject({ code: 3 });
    expect(r.stdout).toMatch(/recovery\.msgs_per_sec\s.*WORSE/);
    expect(existsSync(join(dir, "cmp", "results.md"))).toBe(true);
  }, 190_000);
});
