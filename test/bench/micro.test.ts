/**
 * The mitata micro-benchmarks run (`bun bench/micro/run.ts --smoke`, the
 * first size of every sweep) and report sane numbers: every expected
 * benchmark present, times positive, finite and ordered. Speed is never
 * asserted. Also: `micro` and `soak` run only when named.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSuiteArgs } from "../../bench/lib/suite-args.ts";
import type { MicroRow } from "../../bench/micro/run.ts";
import { SCENARIOS } from "../../bench/scenarios/index.ts";

const ROOT = join(import.meta.dir, "../..");

describe("bench/micro/run.ts --smoke", () => {
  test(
    "every micro-benchmark runs once per sweep and reports positive, ordered times",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "tickgate-micro-"));
      const out = join(dir, "micro.json");
      try {
        const proc = Bun.spawn([process.execPath, join(ROOT, "bench/micro/run.ts"), "--smoke", "--json", out], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
        const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
        expect({ code, stderr: stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
        expect(stdout).toContain("summary");
        const { rows } = JSON.parse(readFileSync(out, "utf8")) as { rows: MicroRow[] };
        expect(rows.map((r) => r.name).sort()).toEqual(
          [
            "encode publication frame (64 B)",
            "encode publication frame with key and tags (64 B)",
            "scan publish frame (64 B)",
            "scan publish frame, non-ASCII strings (64 B)",
            "skip payload value (64 B)",
            "match cached topic (10 patterns)",
            "match new topic (10 patterns)",
            "subscribe and release a topic (10 patterns)",
          ].sort(),
        );
        for (const r of rows) {
          const where = JSON.stringify(r);
          for (const v of [r.minNs, r.p50Ns, r.p99Ns, r.avgNs, r.maxNs]) {
            expect(Number.isFinite(v), where).toBe(true);
            expect(v, where).toBeGreaterThan(0);
          }
          expect(r.minNs, where).toBeLessThanOrEqual(r.p50Ns);
          expect(r.p50Ns, where).toBeLessThanOrEqual(r.p99Ns);
          expect(r.p99Ns, where).toBeLessThanOrEqual(r.maxNs);
          expect(r.samples, where).toBeGreaterThan(0);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    90_000,
  );

  test("an unknown file name is refused with the list of known ones", async () => {
    const proc = Bun.spawn([process.execPath, join(ROOT, "bench/micro/run.ts"), "no-such-thing"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).not.toBe(0);
    expect(stderr).toContain("unknown micro-benchmark 'no-such-thing'");
    expect(stderr).toContain("channel-index");
  });
});

describe("on-demand scenarios", () => {
  test("micro and soak are left out of a run of all, and run when named", () => {
    const everyday = parseSuiteArgs([], SCENARIOS).scenarios.map((s) => s.name);
    expect(everyday).not.toContain("micro");
    expect(everyday).not.toContain("soak");
    expect(parseSuiteArgs(["all"], SCENARIOS).scenarios.map((s) => s.name)).toEqual(everyday);
    expect(parseSuiteArgs(["micro"], SCENARIOS).scenarios.map((s) => s.name)).toEqual(["micro"]);
  });
});
