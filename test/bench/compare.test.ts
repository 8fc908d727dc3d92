/**
 * Compare-only mode, as CI runs it: `bun run bench compare A.json B.json`
 * and `tickgate bench compare A.json B.json` on two saved results files, in
 * real processes. Exit codes: 0 nothing worse, 3 a regression, 4 nothing
 * judged or a noisy metric left out, 2 a missing or garbled file (one line,
 * before anything runs). A metric measured at another point (quick against
 * full, other workload flags) is never compared.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Metric } from "../../bench/lib/scenario.ts";
import { ROOT } from "../helpers/spawn.ts";

const dir = mkdtempSync(join(tmpdir(), "tickgate-compare-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(cmd: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  const proc = Bun.spawn([process.execPath, ...cmd], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(killer);
  return { code, stdout, stderr, ms: performance.now() - t0 };
}
const bench = (...args: string[]) => run([join(ROOT, "bench/run.ts"), ...args]);
const tickgate = (...args: string[]) => run([join(ROOT, "src/cli/main.ts"), "bench", ...args]);

let n = 0;
/** A results file as a run writes it (the fields compare reads), with these metrics in one scenario. */
function results(metrics: Partial<Metric>[], o: { quick?: boolean; config?: Record<string, string> } = {}): string {
  const file = join(dir, `r${n++}.json`);
  const full = metrics.map((m) => ({ describe: m.id, better: "higher", value: 1, ...m }));
  writeFileSync(file, JSON.stringify({ command: "test", quick: o.quick ?? false, scenarios: [{ scenario: "recovery", config: o.config ?? { count: "1000" }, metrics: full }], failed: [] }));
  return file;
}

describe("bench compare A.json B.json", () => {
  test("a metric worse than the tolerance: WORSE and exit 3", async () => {
    const a = results([{ id: "recovery.msgs_per_sec", value: 1000 }, { id: "recovery.time_ms", value: 10, better: "lower" }]);
    const b = results([{ id: "recovery.msgs_per_sec", value: 800 }, { id: "recovery.time_ms", value: 10.5, better: "lower" }]);
    for (const r of [await bench("compare", a, b), await tickgate("compare", a, b)]) {
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 3, stderr: "" });
      expect(r.stdout).toMatch(/recovery\.msgs_per_sec\s+full\s.*-20\.0%\s+WORSE/);
      expect(r.stdout).toMatch(/recovery\.time_ms\s.*\+5\.0%\s+ok/);
      expect(r.stdout).toContain("1 of 2 judged metric(s) got worse");
    }
  }, 60_000);

  test("nothing worse than the tolerance (better is never worse): exit 0", async () => {
    const a = results([{ id: "recovery.msgs_per_sec", value: 1000 }, { id: "recovery.time_ms", value: 10, better: "lower" }]);
    const b = results([{ id: "recovery.msgs_per_sec", value: 5000 }, { id: "recovery.time_ms", value: 10.9, better: "lower" }]);
    const r = await bench("compare", a, b);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).toContain("no metric got worse than the tolerance (2 judged)");
    // The tolerance is the caller's: 5% turns the same files into a regression.
    expect((await bench("compare", a, b, "--tolerance", "5")).code).toBe(3);
  }, 60_000);

  test("a quick run's metric is never compared with a full run's: other point, exit 4", async () => {
    const full = results([{ id: "recovery.msgs_per_sec", value: 1000 }]);
    const quick = results([{ id: "recovery.msgs_per_sec", value: 10 }], { quick: true });
    const r = await bench("compare", full, quick);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/recovery\.msgs_per_sec\s+quick\s.*other point: quick vs full/);
    expect(r.stdout).not.toContain("WORSE");
    expect(r.stdout).toContain("no metric could be judged");
    // Other workload flags are another point too, and the row says which flag.
    const other = results([{ id: "recovery.msgs_per_sec", value: 10 }], { config: { count: "50" } });
    const o = await bench("compare", full, other);
    expect(o.code).toBe(4);
    expect(o.stdout).toContain("--count 50 vs 1000");
    // A point the metric names itself wins over the one the runner derives.
    const named = results([{ id: "recovery.msgs_per_sec", value: 10, point: "full recovery --count 1000" }], { config: { count: "50" } });
    expect((await bench("compare", full, named)).code).toBe(3);
  }, 60_000);

  test("noisy metrics are left out of the verdict: a noisy regression is not judged (exit 4), the rest still are", async () => {
    const a = results([{ id: "recovery.msgs_per_sec", value: 1000 }, { id: "recovery.time_ms", value: 10, better: "lower" }]);
    const noisyWorse = results([{ id: "recovery.msgs_per_sec", value: 100, noisy: true }, { id: "recovery.time_ms", value: 10, better: "lower" }]);
    const r = await bench("compare", a, noisyWorse);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/recovery\.msgs_per_sec\s.*noisy: this run noisy/);
    expect(r.stdout).not.toContain("WORSE");
    expect(r.stdout).toContain("1 could not be judged");
    // A real regression elsewhere still fails the gate, noisy rows or not.
    const both = results([{ id: "recovery.msgs_per_sec", value: 100, noisy: true }, { id: "recovery.time_ms", value: 20, better: "lower" }]);
    const b = await bench("compare", a, both);
    expect(b.code).toBe(3);
    expect(b.stdout).toMatch(/recovery\.time_ms\s.*WORSE/);
  }, 60_000);

  test("a missing, garbled or wrong-shaped file: one line on stderr, exit 2", async () => {
    const good = results([{ id: "recovery.msgs_per_sec", value: 1000 }]);
    const garbled = join(dir, "garbled.json");
    writeFileSync(garbled, '{"scenarios": [');
    const shape = join(dir, "shape.json");
    writeFileSync(shape, JSON.stringify({ scenarios: [{ metrics: [{ id: "x", value: "fast", better: "higher" }] }] }));
    const cases: [string[], RegExp][] = [
      [["compare", join(dir, "nope.json"), good], /nope\.json: no such file/],
      [["compare", garbled, good], /garbled\.json: not JSON/],
      [["compare", good, shape], /shape\.json: not a bench results file \(.*'x'.*numeric 'value'/],
      [["compare", good], /compare takes two results files, got 1/],
      [["compare", good, good, "--tolerance", "x"], /--tolerance is a percentage/],
    ];
    for (const [args, msg] of cases) {
      for (const r of [await bench(...args), await tickgate(...args)]) {
        expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).toMatch(msg);
      }
    }
  }, 60_000);

  test("--compare with a bad baseline fails at once, before any scenario starts", async () => {
    for (const r of [await bench("recovery", "--quick", "--compare", join(dir, "nope.json")), await tickgate("recovery", "--quick", "--compare", join(dir, "nope.json"))]) {
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain("nope.json: no such file");
    }
  }, 60_000);
});
