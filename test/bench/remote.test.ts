/**
 * `tickgate bench --url`: the bench against a tickgate it did not start (a
 * real `tickgate serve` child on 127.0.0.1, port 0), anonymous and with auth
 * and a token, in quick mode. Checks the report's numbers are sane (nothing
 * lost, duplicated or stray, percentiles in order, counts that agree), that
 * server figures come from /metrics only when the token may read it, and
 * that mistakes fail at once with one line. Speed is never asserted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RemoteRun } from "../../bench/remote/measure.ts";
import type { SuiteResults } from "../../bench/lib/results.ts";
import { runCli, startCli, type CliServer } from "../helpers/spawn.ts";

const dir = mkdtempSync(join(tmpdir(), "tickgate-remote-"));
const SECRET = `remote-bench-${crypto.randomUUID()}`;
let open: CliServer;
let authed: CliServer;

beforeAll(async () => {
  open = await startCli(["serve", "--port", "0", "--no-demo", "--log-level", "warn"]);
  authed = await startCli(["serve", "--port", "0", "--no-demo", "--log-level", "warn"], { TICKGATE_AUTH_SECRET: SECRET, TICKGATE_AUTH_REQUIRED: "true" });
}, 60_000);

afterAll(async () => {
  await open?.[Symbol.asyncDispose]();
  await authed?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

const url = (s: CliServer) => `ws://127.0.0.1:${s.port}/ws`;
const read = (out: string) => JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as SuiteResults;

async function token(...args: string[]): Promise<string> {
  const r = await runCli(["token", "--sub", "bench", "--secret", SECRET, "--ttl", "1h", ...args]);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

function expectSane(r: RemoteRun): void {
  expect(r).toMatchObject({ lost: 0, dup: 0, stray: 0, malformed: 0, errorFrames: 0, closed: 0 });
  expect(r.deliveries).toBeGreaterThan(0);
  expect(r.sent).toBeGreaterThan(0);
  const l = r.latencyUs;
  expect(l.samples).toBeGreaterThan(0);
  expect(l.p50).toBeLessThanOrEqual(l.p90);
  expect(l.p90).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.p999);
  expect(l.p999).toBeLessThanOrEqual(l.max);
}

describe("tickgate bench --url against a separately started server", () => {
  test("anonymous: every scenario in quick mode, sane numbers, server figures from /metrics, results written", async () => {
    const out = join(dir, "open");
    const r = await runCli(["bench", "--url", url(open), "--quick", "--out", out]);
    if (r.code !== 0) console.error(r.stdout.slice(-3000), r.stderr.slice(-2000));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`server figures from http://127.0.0.1:${open.port}/metrics`);
    const res = read(out);
    expect(res.failed).toEqual([]);
    expect(res.scenarios.map((s) => s.scenario)).toEqual(["fanout", "topics", "ingest", "connections"]);
    for (const name of ["fanout", "topics", "ingest"]) {
      const runs = res.scenarios.find((s) => s.scenario === name)!.data.runs as RemoteRun[];
      expect(runs.length).toBeGreaterThan(0);
      for (const x of runs) {
        expectSane(x);
        // /metrics was readable: the server's CPU and memory are in the row.
        expect(x.serverCpuUsPerDelivery).toBeGreaterThan(0);
        expect(x.serverRssMiB).toBeGreaterThan(0);
      }
    }
    // Every delivery of a subscriber is one the publisher sent: the fan-out multiplies, never invents.
    // Counts, not rates: the window's deliveries against its sends, plus what was in flight when it opened.
    const fan = res.scenarios.find((s) => s.scenario === "fanout")!;
    const subs = fan.data.subs as number;
    const IN_FLIGHT = 200;
    for (const x of fan.data.runs as RemoteRun[]) {
      expect(x.deliveries).toBeGreaterThan(0);
      expect(x.deliveries).toBeLessThanOrEqual((x.sent + IN_FLIGHT) * subs);
    }
    const conns = res.scenarios.find((s) => s.scenario === "connections")!.data as { opened: number; reached: number; lost: number; serverConnections: number };
    expect(conns.reached).toBe(conns.opened - 1);
    expect(conns.lost).toBe(0);
    expect(conns.serverConnections).toBeGreaterThanOrEqual(conns.opened);
    // Metric ids say remote, and each names its point: quick, the scenario, the server.
    const metrics = res.scenarios.flatMap((s) => s.metrics);
    expect(metrics.length).toBeGreaterThan(0);
    for (const m of metrics) {
      expect(m.id).toStartWith("remote.");
      expect(m.point).toStartWith("quick remote-");
      expect(m.point).toContain(`--url ${url(open)}`);
    }
    expect(existsSync(join(out, "results.md"))).toBe(true);
  }, 180_000);

  test("--compare against a saved remote run of the same point judges it (exit 0 at a wide tolerance)", async () => {
    const a = join(dir, "cmp-a");
    const b = join(dir, "cmp-b");
    expect((await runCli(["bench", "--url", url(open), "fanout", "--quick", "--out", a])).code).toBe(0);
    const r = await runCli(["bench", "--url", url(open), "fanout", "--quick", "--out", b, "--compare", join(a, "results.json"), "--tolerance", "1000000"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/remote\.fanout\.100\.deliveries_per_sec\s+quick\s.*ok/);
    // The same two files through compare-only mode: the same verdict.
    const c = await runCli(["bench", "compare", join(a, "results.json"), join(b, "results.json"), "--tolerance", "1000000"]);
    expect(c.code).toBe(0);
    expect(c.stdout).toContain("judged");
  }, 120_000);

  test("with auth: the token is used for every connection; /metrics needs tg.admin, else those columns are '-' and say why", async () => {
    const plain = await token("--subscribe", "bench.>", "--publish", "bench.>");
    const out = join(dir, "auth");
    const r = await runCli(["bench", "--url", url(authed), "fanout", "ingest", "--quick", "--out", out, "--token", plain]);
    if (r.code !== 0) console.error(r.stdout.slice(-3000), r.stderr.slice(-2000));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("answered 403 (the token needs tg.admin to read it)");
    const res = read(out);
    for (const s of res.scenarios) {
      for (const x of s.data.runs as RemoteRun[]) {
        expectSane(x);
        // NaN in the run, null in JSON: not measured.
        expect(x.serverCpuUsPerDelivery).toBeNull();
      }
      expect(s.tables[0]!.notes!.join(" ")).toContain("server figures unavailable");
    }
    // The token never lands in the results.
    expect(readFileSync(join(out, "results.json"), "utf8")).not.toContain(plain);
    expect(res.command).toContain("--token ***");

    // A token with tg.admin (and the env variable instead of the flag): server figures are back.
    const admin = await token("--subscribe", "bench.>", "--publish", "bench.>", "--admin");
    const out2 = join(dir, "auth-admin");
    const r2 = await runCli(["bench", "--url", url(authed), "fanout", "--quick", "--out", out2], { TICKGATE_TOKEN: admin });
    expect(r2.code).toBe(0);
    const run2 = (read(out2).scenarios[0]!.data.runs as RemoteRun[])[0]!;
    expectSane(run2);
    expect(run2.serverCpuUsPerDelivery).toBeGreaterThan(0);
  }, 180_000);

  test("with auth: no token, or a token that does not grant the bench topics, fails with one line and exit 1", async () => {
    const none = await runCli(["bench", "--url", url(authed), "fanout", "--quick", "--out", join(dir, "none")]);
    expect(none.code).toBe(1);
    expect(none.stderr.trim().split("\n")).toHaveLength(1);
    expect(none.stderr).toContain(`cannot use ${url(authed)}: sub bench.probe refused: UNAUTHORIZED`);

    // Granted other.>, asked to bench under bench.: refused before any scenario starts, and the line says what to grant.
    const other = await token("--subscribe", "other.>", "--publish", "other.>");
    const r = await runCli(["bench", "--url", url(authed), "fanout", "--quick", "--out", join(dir, "other"), "--token", other]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: "" });
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("sub bench.probe refused: FORBIDDEN");
    expect(r.stderr).toContain("the token must grant subscribe and publish on bench.>");
    // A token whose subscribe grant is right but publish grant is not: the publisher's pub frames are refused and counted.
    const subOnly = await token("--subscribe", "bench.>");
    const p = await runCli(["bench", "--url", url(authed), "fanout", "--quick", "--out", join(dir, "subonly"), "--token", subOnly]);
    const run = (read(join(dir, "subonly")).scenarios[0]!.data.runs as RemoteRun[])[0]!;
    expect(p.code).toBe(0);
    expect(run.errorFrames).toBeGreaterThan(0);
    expect(run.deliveriesPerSec).toBe(0);
    expect(p.stdout).toContain("error frame FORBIDDEN");
    // Under the prefix it grants, the same token works.
    const ok = await runCli(["bench", "--url", url(authed), "fanout", "--quick", "--out", join(dir, "other-ok"), "--token", other, "--prefix", "other."]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("topics other.*");
  }, 120_000);

  test("usage mistakes and an unreachable server fail at once with one line", async () => {
    const cases: [string[], number, RegExp][] = [
      [["bench", "--url", "http://127.0.0.1:1/ws"], 2, /--url must start with ws:\/\/ or wss:\/\//],
      [["bench", "--url", `${url(open)}?token=abc`], 2, /--url must not hold \?token=/],
      [["bench", "--url", url(open), "--prefix", "bench"], 2, /--prefix must be topic segments ending in a dot/],
      [["bench", "--url", url(open), "nosuch"], 2, /unknown scenario 'nosuch'/],
      [["bench", "--url", url(open), "--compare", join(dir, "missing.json")], 2, /missing\.json: no such file/],
      [["bench", "--url", "ws://127.0.0.1:1/ws", "--quick"], 1, /cannot use ws:\/\/127\.0\.0\.1:1\/ws: .*ECONNREFUSED/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await runCli(args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code, stdout: "" });
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  }, 60_000);
});

describe("tickgate bench --help", () => {
  test("lists every flag the runners parse: the suite's, the remote ones, every scenario's of both", async () => {
    const r = await runCli(["bench", "--help"]);
    expect(r.code).toBe(0);
    const { SUITE_FLAGS } = await import("../../bench/lib/suite-args.ts");
    const { REMOTE_FLAGS } = await import("../../bench/remote/main.ts");
    const { remoteScenarios } = await import("../../bench/remote/scenarios.ts");
    const { SCENARIOS } = await import("../../bench/scenarios/index.ts");
    for (const f of [...SUITE_FLAGS, ...REMOTE_FLAGS]) expect(r.stdout).toContain(`--${f.name}`);
    const remote = remoteScenarios({ target: { url: new URL("ws://x/ws") }, metrics: null as never, prefix: "bench." });
    for (const s of [...remote, ...SCENARIOS]) {
      expect(r.stdout).toContain(`${s.name}: ${s.describe}`);
      for (const f of s.flags) expect(r.stdout).toContain(`--${f.name}`);
    }
    expect(r.stdout).toContain("compare BASELINE.json CURRENT.json");
    for (const code of ["0  ok", "1  a scenario failed", "2  bad usage", "3  regression", "4  not judged"]) expect(r.stdout).toContain(code);
  }, 60_000);
});
