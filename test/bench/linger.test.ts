/**
 * `bun run bench linger --quick`: both workloads, the bare loop and every
 * linger variant ran, nothing was lost, duplicated or stray at the fixed
 * rates the scenario uses, and every target has a verdict. Linger changes
 * when frames leave, never which ones: a clean run proves the harness and
 * the feature deliver every tick once. No speed is asserted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunResult } from "../../bench/lib/report.ts";
import type { SuiteResults } from "../../bench/lib/results.ts";
import type { ScenarioResult } from "../../bench/lib/scenario.ts";

const ROOT = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "tickgate-linger-"));
let code: number | null = null;
let stdout = "";
let linger: ScenarioResult;

beforeAll(async () => {
  const proc = Bun.spawn([process.execPath, join(ROOT, "bench/run.ts"), "linger", "--quick", "--out", dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 240_000);
  const [c, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(killer);
  code = c;
  stdout = out;
  if (c !== 0) console.error(out.slice(-3000), err.slice(-3000));
  const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as SuiteResults;
  expect(results.failed).toEqual([]);
  linger = results.scenarios.find((s) => s.scenario === "linger")!;
}, 250_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function clean(r: RunResult): void {
  const where = `${r.server}: ${JSON.stringify(r).slice(0, 600)}`;
  expect(r.deliveries, where).toBeGreaterThan(0);
  expect(r.lost, where).toBe(0);
  expect(r.dup, where).toBe(0);
  expect(r.malformed + r.gapFrames + r.errorFrames + r.closedConns + (r.unexpected ?? 0), where).toBe(0);
  expect(r.serverCpuUsPerDelivery, where).toBeGreaterThan(0);
  expect(r.latencyUs.samples, where).toBeGreaterThan(0);
  expect(r.latencyUs.p99, where).toBeGreaterThanOrEqual(r.latencyUs.p50);
}

describe("bun run bench linger --quick", () => {
  test("runs both workloads with the bare loop and every variant, and prints their tables", () => {
    expect(code).toBe(0);
    const plans = linger.data.plans as { plan: { workload: string }; summary: Record<string, unknown> }[];
    expect(plans.map((p) => p.plan.workload)).toEqual(["single", "prices"]);
    for (const p of plans) expect(Object.keys(p.summary).sort()).toEqual(["adaptive", "bare", "linger 0", "linger 5"]);
    expect(stdout).toContain("linger: 50 subs × 200/s, one topic");
    expect(stdout).toContain("linger: 50 subs on bench.t.* × 10 topics × 20/s");
    expect(readFileSync(join(dir, "results.md"), "utf8")).toContain("## linger");
  });

  test("every run delivered every tick once, in order, with nothing stray", () => {
    expect(linger.runs).toHaveLength(8);
    for (const r of linger.runs) clean(r);
  });

  test("every linger target has a verdict and the ratios are reported as metrics", () => {
    const ids = linger.targets.map((t) => t.id).sort();
    expect(ids).toEqual(["linger.cpu_10ms_vs_bare", "linger.cpu_5ms_vs_bare", "linger.cpu_adaptive_vs_bare", "linger.p99_10ms_over_bare_ms", "linger.p99_5ms_over_bare_ms", "linger.p99_adaptive_vs_bare"]);
    for (const t of linger.targets) expect(["met", "not met", "not measured"]).toContain(t.verdict);
    // 10 ms is not in the quick run: said so, never met by default.
    expect(linger.targets.find((t) => t.id === "linger.cpu_10ms_vs_bare")).toMatchObject({ verdict: "not measured", note: "linger 10 not in --lingers" });
    const metricIds = linger.metrics.map((m) => m.id);
    for (const w of ["single", "prices"]) for (const k of ["0ms", "5ms", "adaptive"]) expect(metricIds).toContain(`linger.${w}.${k}.cpu_vs_bare`);
  });
});
