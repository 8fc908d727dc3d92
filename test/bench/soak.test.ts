/**
 * `bun run bench soak` for a few seconds: a real `tickgate serve` process
 * under the whole churn, sampled, and reported as a table, JSON and SVG.
 * What must hold is the report's shape and the soak's own zeros: no crash,
 * no error seen by a correct client, nothing lost. Too short to judge
 * flatness, and no speed is asserted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SuiteResults } from "../../bench/lib/results.ts";
import type { ScenarioResult } from "../../bench/lib/scenario.ts";
import { fit } from "../../bench/scenarios/soak.ts";

const ROOT = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "tickgate-soak-"));
let code: number | null = null;
let stdout = "";
let soak: ScenarioResult;

beforeAll(async () => {
  const proc = Bun.spawn([process.execPath, join(ROOT, "bench/run.ts"), "soak", "--seconds", "6", "--sample", "1", "--churn", "4", "--out", dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 150_000);
  const [c, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(killer);
  code = c;
  stdout = out;
  if (c !== 0) console.error(out.slice(-3000), err.slice(-3000));
  const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as SuiteResults;
  expect(results.failed).toEqual([]);
  soak = results.scenarios.find((s) => s.scenario === "soak")!;
}, 160_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bun run bench soak --seconds 6", () => {
  test("runs, prints both tables, writes json, markdown and series.svg", () => {
    expect(code).toBe(0);
    expect(stdout).toContain("soak: server resources over");
    expect(stdout).toContain("soak: load and what correct clients saw");
    expect(readFileSync(join(dir, "results.md"), "utf8")).toContain("## soak");
    const svg = readFileSync(join(dir, "series.svg"), "utf8");
    for (const name of ["RSS", "heap used", "open file descriptors", "topics", "sessions", "subscriptions"]) expect(svg).toContain(name);
  });

  test("zero crashes, zero errors from correct clients, nothing lost", () => {
    const byId = Object.fromEntries(soak.targets.map((t) => [t.id, t]));
    for (const id of ["soak.crashes", "soak.client_errors", "soak.lost"]) expect(byId[id], JSON.stringify(soak.data.load)).toMatchObject({ value: 0, verdict: "met" });
    expect(["met", "not met"]).toContain(byId["soak.series_not_flat"]!.verdict);
    expect(soak.data).toMatchObject({ crashes: 0, errors: 0, lost: 0 });
  });

  test("every kind of load ran and was counted", () => {
    const l = soak.data.load as Record<string, any>;
    expect(l.churnCycles).toBeGreaterThan(0);
    expect(l.published).toBeGreaterThan(0);
    expect(l.httpPublished).toBeGreaterThan(0);
    expect(l.recovery.delivered).toBeGreaterThan(0);
    expect(l.recovery.reconnects).toBeGreaterThanOrEqual(0);
    expect(l.sse.streams).toBeGreaterThan(0);
    expect(l.slow.started).toBeGreaterThan(0);
    expect(l.dead.started).toBeGreaterThan(0);
    expect(l.slow.closedByServer + l.slow.closedByUs).toBe(l.slow.started);
    expect(l.dead.closedByServer + l.dead.closedByUs).toBe(l.dead.started);
  });

  test("every series is sampled with sane values and a verdict", () => {
    const samples = soak.data.samples as Record<string, number>[];
    expect(samples.length).toBeGreaterThanOrEqual(2);
    for (const s of samples) {
      expect(s.rss).toBeGreaterThan(0);
      expect(s.heap).toBeGreaterThan(0);
      expect(s.fds).toBeGreaterThan(0);
      for (const k of ["topics", "sessions", "subscriptions", "connections"]) expect(Number.isInteger(s[k]) && s[k]! >= 0).toBe(true);
    }
    // Sample times go forward.
    for (let i = 1; i < samples.length; i++) expect(samples[i]!.t!).toBeGreaterThan(samples[i - 1]!.t!);
    expect(soak.series!.map((s) => s.name)).toEqual(["RSS", "heap used", "open file descriptors", "topics", "sessions", "subscriptions"]);
    for (const s of soak.series!) {
      expect(s.points.length).toBe(samples.length);
      expect(s.verdict).toMatch(/^(flat|growing|shrinking|too few samples)/);
    }
  });
});

describe("soak: the least-squares fit", () => {
  test("recovers a line's slope and start; a constant has slope 0", () => {
    const line = fit([0, 1, 2, 3, 4].map((x) => [10 + x, 5 + 2 * x] as [number, number]));
    expect(line.slope).toBeCloseTo(2, 9);
    expect(line.at).toBeCloseTo(5, 9);
    expect(line.mean).toBeCloseTo(9, 9);
    expect(fit([[0, 7], [1, 7], [5, 7]]).slope).toBe(0);
  });
});
