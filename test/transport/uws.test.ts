/**
 * The uWebSockets.js transport. uWS is a Node addon and does not load under
 * Bun, so the shared conformance suite (test/conformance/transport.case.ts,
 * unchanged) is bundled for Node and run there in a child process; each of
 * its cases is reported here as a test of its own. The loader's refusals
 * are checked on both runtimes.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadUws } from "../../src/adapter/uws/load.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { buildForNode } from "./uws-fixture/node-build.ts";
import { runNode } from "./uws-fixture/run-node.ts";

const FIXTURES = join(import.meta.dir, "uws-fixture");

// Run once at load: the case names are only known from Node's report.
const suiteFile = await buildForNode(join(FIXTURES, "suite.node.ts"), "suite");
const suite = await runNode(suiteFile, [], { NODE_TEST_REPORTER: "tap" });
const cases = [...suite.stdout.matchAll(/^ {4}(not ok|ok) \d+ - (.+)$/gm)].map((m) => ({ ok: m[1] === "ok", name: m[2]! }));

describe("transport conformance: uWebSockets.js on Node (child process)", () => {
  test("the suite ran under Node and every case passed", () => {
    const failed = cases.filter((c) => !c.ok).map((c) => c.name);
    expect(failed, suite.stdout + suite.stderr).toEqual([]);
    expect(cases.length, suite.stdout + suite.stderr).toBeGreaterThanOrEqual(8);
    expect(suite.code, suite.stderr).toBe(0);
  });
  for (const c of cases) {
    test(c.name, () => {
      // The TAP block after a failing case holds Node's message and stack.
      if (!c.ok) throw new Error(suite.stdout.slice(suite.stdout.indexOf(c.name)).slice(0, 3000));
    });
  }
});

describe("loadUws", () => {
  const loader = buildForNode(join(FIXTURES, "load.node.ts"), "load");
  const load = async (args: string[] = [], env: Record<string, string> = {}) => JSON.parse((await runNode(await loader, args, env)).stdout.trim().split("\n").at(-1)!);

  test("loads the native build under Node", async () => {
    expect(await load()).toEqual({ ok: true, native: true });
  });

  test("refuses a JavaScript fallback with one line naming what to install", async () => {
    // This build falls back to its ws-based implementation when told to (or when no binary fits).
    const r = await load(["@trufflesuite/uws-js-unofficial"], { UWS_USE_FALLBACK: "1" });
    expect(r.ok).toBe(false);
    expect(r.code).toBe("CONFIG");
    expect(r.message).toContain("JavaScript fallback");
    expect(r.message).toContain("npm install");
    expect(r.message).not.toContain("\n");
  });

  test("refuses a module that is not installed, naming it", async () => {
    const r = await load(["uws-not-installed-here"]);
    expect(r.ok).toBe(false);
    expect(r.message).toContain("'uws-not-installed-here' is not installed");
  });

  test("refuses under Bun before loading anything", async () => {
    const e = await loadUws().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toContain("does not run under Bun");
    expect((e as Error).message).not.toContain("\n");
  });
});
