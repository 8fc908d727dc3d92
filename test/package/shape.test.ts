/**
 * The tarball's shape: what it holds, and the packaging linters (publint,
 * arethetypeswrong) over it. A broken `exports` map must fail the check, so
 * one case breaks it on purpose.
 */
import { describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/spawn.ts";
import { NODE_ONLY_PATH, run, tarball } from "./tarball.ts";

const BIN = join(ROOT, "node_modules", ".bin");
const SLOW = 240_000;

/** The entries package.json exports; `./node` joins them with the uWebSockets.js adapter. */
const ENTRIES = [".", "./bun", "./node", "./client", "./legacy"];

describe("package shape", () => {
  test("the tarball holds the build, types, schema and docs, and no tests, bench, examples or sources", async () => {
    const tgz = await tarball();
    const r = await run("tar", ["-tzf", tgz], { cwd: ROOT });
    const files = r.stdout.trim().split("\n").map((f) => f.replace(/^package\//, ""));
    for (const f of ["package.json", "LICENSE", "README.md", "CHANGELOG.md", "config.schema.json", "docs/config.md", "docs/deploy.md", "dist/index.js", "dist/index.d.ts", "dist/client/index.js", "dist/client/index.d.ts", "dist/adapter/bun/index.js", "dist/adapter/bun/index.d.ts", "dist/cli/main.js", "dist/demo/dashboard/main.js", "dist/bench/bench/remote/main.js", "dist/bench/bench/lib/compare-cli.js"]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(test|bench|examples|src|scripts|\.ci)\//.test(f) || f.endsWith(".ts") && !f.endsWith(".d.ts") || f.endsWith(".map"))).toEqual([]);
  }, SLOW);

  test("every export has types first and a JavaScript default; the bin is built JavaScript for node", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    for (const entry of ENTRIES) {
      const e = pkg.exports[entry];
      expect(Object.keys(e)[0]).toBe("types");
      expect(e.types).toMatch(/^\.\/dist\/.*\.d\.ts$/);
      expect(e.default).toMatch(/^\.\/dist\/.*\.js$/);
    }
    expect(pkg.bin.tickgate).toBe("./dist/cli/main.js");
    expect(readFileSync(join(ROOT, "src", "cli", "main.ts"), "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
    expect(pkg.scripts.prepack).toBeDefined();
  });

  test("publint finds nothing to warn about", async () => {
    const r = await run(join(BIN, "publint"), ["run", await tarball(), "--strict"], { cwd: ROOT });
    expect(r.stdout + r.stderr).toContain("All good");
    expect(r.code).toBe(0);
  }, SLOW);

  test("arethetypeswrong: every entry resolves to its types under node16 (ESM) and bundlers", async () => {
    const r = await run(join(BIN, "attw"), [await tarball(), "--profile", "esm-only", "--format", "json"], { cwd: ROOT });
    const report = JSON.parse(r.stdout) as { analysis: { entrypoints: Record<string, unknown> }; problems: Record<string, { resolutionKind?: string }[]> };
    expect(Object.keys(report.analysis.entrypoints)).toEqual(expect.arrayContaining(ENTRIES));
    // The esm-only profile ignores node10 and require(): the package is ESM, for Node 20+.
    const problems = Object.values(report.problems).flat();
    expect(problems.filter((p) => p.resolutionKind !== "node10" && p.resolutionKind !== "node16-cjs")).toEqual([]);
    expect(r.code).toBe(0);
  }, SLOW);

  test("a broken exports map fails the check", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tickgate-broken-"));
    try {
      await run("tar", ["-xzf", await tarball(), "-C", dir], { cwd: ROOT });
      const pkgDir = join(dir, "package");
      const file = join(pkgDir, "package.json");
      const pkg = JSON.parse(readFileSync(file, "utf8"));
      pkg.exports["./client"] = { types: "./dist/client/missing.d.ts", default: "./dist/client/index.js" };
      delete pkg.scripts;
      writeFileSync(file, JSON.stringify(pkg));
      const r = await run(join(BIN, "publint"), ["run", pkgDir, "--pack", "false", "--strict"], { cwd: pkgDir });
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toContain("missing.d.ts");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);

  test("in a checkout, the built command runs `bench --list` on Node alone (the benchmarks on the Bun beside it)", async () => {
    await tarball(); // packing built dist/
    const r = await run("node", [join(ROOT, "dist", "cli", "main.js"), "bench", "--list"], { cwd: ROOT, env: { PATH: NODE_ONLY_PATH }, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    for (const scenario of ["fanout", "topics", "connections"]) expect(r.stdout).toContain(scenario);
  }, SLOW);
});
