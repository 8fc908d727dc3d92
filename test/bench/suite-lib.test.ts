/**
 * The bench suite's own logic, without running a benchmark: command-line
 * parsing, flag values, target verdicts, the baseline comparison, and the
 * tables and chart it writes.
 */
import { describe, expect, test } from "bun:test";
import { compareMetrics, compareTable } from "../../bench/lib/compare.ts";
import { markNoisy, pointOf, stampResult } from "../../bench/lib/points.ts";
import { markdownTable, textTable } from "../../bench/lib/render.ts";
import { emptyResult, Flags, type Metric, type Scenario, type ScenarioResult, type Table } from "../../bench/lib/scenario.ts";
import type { RunResult } from "../../bench/lib/report.ts";
import { parseSuiteArgs } from "../../bench/lib/suite-args.ts";
import { chartSvg } from "../../bench/lib/svg.ts";
import { check, loadTargets } from "../../bench/lib/targets.ts";
import { SCENARIOS } from "../../bench/scenarios/index.ts";

const fake = (name: string, flags: string[]): Scenario => ({
  name,
  describe: name,
  flags: flags.map((f) => ({ name: f, def: "1", quick: "2", help: "" })),
  run: async () => emptyResult(),
});
const A = fake("alpha", ["seconds", "subs"]);
const B = fake("beta", ["seconds", "rate"]);

describe("parseSuiteArgs", () => {
  test("no scenario means all of them, in order", () => {
    expect(parseSuiteArgs([], [A, B]).scenarios.map((s) => s.name)).toEqual(["alpha", "beta"]);
    expect(parseSuiteArgs(["beta", "--quick"], [A, B]).scenarios.map((s) => s.name)).toEqual(["beta"]);
  });

  test("a plain flag goes to every selected scenario that has it; a scoped one to that one", () => {
    const a = parseSuiteArgs(["--seconds", "3", "--beta.seconds=9", "--subs", "7"], [A, B]);
    expect(a.flags.get("alpha")).toEqual(new Map([["seconds", "3"], ["subs", "7"]]));
    expect(a.flags.get("beta")).toEqual(new Map([["seconds", "9"]]));
  });

  test("suite flags are parsed and the tolerance is a percentage", () => {
    const a = parseSuiteArgs(["--out", "/tmp/x", "--compare", "b.json", "--tolerance", "25", "--quick"], [A]);
    expect([a.out, a.compare, a.tolerance, a.quick]).toEqual(["/tmp/x", "b.json", 0.25, true]);
    expect(parseSuiteArgs([], [A]).tolerance).toBe(0.1);
  });

  test("refuses what no selected scenario takes, unknown scenarios and missing values", () => {
    expect(() => parseSuiteArgs(["alpha", "--rate", "5"], [A, B])).toThrow("no selected scenario takes it");
    expect(() => parseSuiteArgs(["gamma"], [A, B])).toThrow("unknown scenario 'gamma'");
    expect(() => parseSuiteArgs(["--alpha.rate", "5"], [A, B])).toThrow("alpha has no flag --rate");
    expect(() => parseSuiteArgs(["--seconds"], [A, B])).toThrow("needs a value");
  });

  test("every scenario declares a default for each flag, full and quick", () => {
    for (const s of SCENARIOS) {
      for (const quick of [false, true]) {
        const f = new Flags(s.name, s.flags, new Map(), quick);
        expect(Object.keys(f.effective()).length).toBe(s.flags.length);
      }
    }
    expect(SCENARIOS.map((s) => s.name)).toEqual(["fanout", "topics", "filters", "ingest", "connections", "slow", "encodings", "linger", "recovery", "cluster", "micro", "soak"]);
  });
});

describe("Flags", () => {
  test("quick defaults apply under --quick, given values win, bad values are refused", () => {
    const specs = [{ name: "n", def: "10", quick: "2", help: "" }, { name: "on", def: "off", help: "" }];
    expect(new Flags("s", specs, new Map(), false).int("n", 1, 100)).toBe(10);
    expect(new Flags("s", specs, new Map(), true).int("n", 1, 100)).toBe(2);
    expect(new Flags("s", specs, new Map([["n", "50"]]), true).int("n", 1, 100)).toBe(50);
    expect(() => new Flags("s", specs, new Map([["n", "500"]]), false).int("n", 1, 100)).toThrow("--n must be an integer in [1, 100]");
    expect(new Flags("s", specs, new Map([["on", "yes"]]), false).bool("on")).toBe(true);
    expect(() => new Flags("s", specs, new Map([["on", "maybe"]]), false).bool("on")).toThrow("on or off");
  });
});

describe("targets", () => {
  test("bench/targets.json holds every target the issue names", () => {
    expect(Object.keys(loadTargets()).sort()).toEqual([
      "connections.held",
      "connections.memory_per_idle_connection",
      "encodings.batch_deliveries_vs_plain",
      "fanout.auth_cost",
      "fanout.cpu_per_delivery_vs_bare",
      "fanout.deliveries_vs_bare",
      "fanout.deliveries_vs_node_ws",
      "fanout.history_cost",
      "fanout.p99_fixed_vs_bare",
      "ingest.pubs_per_core_vs_nats",
      "linger.cpu_10ms_vs_bare",
      "linger.cpu_5ms_vs_bare",
      "linger.cpu_adaptive_vs_bare",
      "linger.p99_10ms_over_bare_ms",
      "linger.p99_5ms_over_bare_ms",
      "linger.p99_adaptive_vs_bare",
      "soak.client_errors",
      "soak.crashes",
      "soak.lost",
      "soak.series_not_flat",
    ]);
  });

  test("max, min and within-noise verdicts; nothing measured is never met", () => {
    expect(check("fanout.cpu_per_delivery_vs_bare", 1.1).verdict).toBe("met");
    expect(check("fanout.cpu_per_delivery_vs_bare", 1.2).verdict).toBe("not met");
    expect(check("fanout.deliveries_vs_bare", 0.9).verdict).toBe("met");
    expect(check("connections.held", 19_744).verdict).toBe("not met");
    // Within noise: the band is the larger of the run's spread and the floor (5%).
    expect(check("fanout.auth_cost", 0.97).verdict).toBe("met");
    expect(check("fanout.auth_cost", 0.9).verdict).toBe("not met");
    expect(check("fanout.auth_cost", 0.9, undefined, 0.12).verdict).toBe("met");
    const none = check("fanout.deliveries_vs_node_ws", null, "node-ws unavailable");
    expect(none).toMatchObject({ verdict: "not measured", value: null, note: "node-ws unavailable" });
    expect(check("fanout.history_cost", NaN).verdict).toBe("not measured");
  });
});

describe("compareMetrics", () => {
  const m = (id: string, value: number, better: Metric["better"]): Metric => ({ id, value, better, describe: id });
  const suite = (...metrics: Metric[]) => ({ scenarios: [{ metrics }] });

  test("flags a metric worse than the tolerance in its own direction, and only those", () => {
    const base = suite(m("up", 1, "higher"), m("down", 1, "lower"), m("fine", 1, "higher"), m("gone", 1, "higher"));
    const now = suite(m("up", 0.85, "higher"), m("down", 1.2, "lower"), m("fine", 0.95, "higher"), m("new", 2, "lower"));
    const rows = compareMetrics(now, base, 0.1);
    const by = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(by.up!.regressed).toBe(true);
    expect(by.down!.regressed).toBe(true);
    expect(by.fine!.regressed).toBe(false);
    expect(by.gone).toMatchObject({ current: null, regressed: false });
    expect(by.new).toMatchObject({ baseline: null, regressed: false });
    // Better than the baseline is never a regression, however far.
    expect(compareMetrics(suite(m("up", 5, "higher")), suite(m("up", 1, "higher")), 0.1)[0]!.regressed).toBe(false);
    const t = compareTable(rows, 0.1, "base.json");
    expect(t.rows.find((r) => r[0] === "up")![5]).toBe("WORSE");
  });
});

describe("points and noisy windows", () => {
  test("a point names quick or full, the scenario and its workload flags, not how many rounds", () => {
    expect(pointOf("fanout", { points: "50:200", rounds: "1", retries: "0", seconds: "0.5" }, true)).toBe("quick fanout --points 50:200 --seconds 0.5");
    expect(pointOf("fanout", { points: "50:200", rounds: "3", seconds: "0.5" }, true)).toBe(pointOf("fanout", { seconds: "0.5", points: "50:200", rounds: "1" }, true));
    expect(pointOf("fanout", { points: "50:200" }, false)).toStartWith("full fanout");
  });

  test("every table with an 'other' column gets its noisy rows marked, and the scenario's metrics become noisy", () => {
    const t: Table = { title: "variants", columns: ["variant", "deliv/s", "other"], rows: [["plain", "1,000", "3%"], ["auth", "900", "25%"]] };
    const metrics: Metric[] = [{ id: "x.a", value: 1, better: "higher", describe: "" }, { id: "x.b", value: 1, better: "higher", describe: "", noisy: false }];
    const r: ScenarioResult = { scenario: "x", describe: "", config: {}, headline: "", tables: [t], targets: [], metrics, notes: [], runs: [], chart: [], data: {}, seconds: 0 };
    stampResult(r, false);
    expect(t.columns.at(-1)).toBe("note");
    expect(t.rows.map((x) => x.at(-1))).toEqual(["", "noisy"]);
    expect(t.notes![0]).toContain("left out of --compare verdicts");
    // Derived where the scenario said nothing; kept where it did.
    expect(r.metrics.map((m) => [m.noisy, m.point])).toEqual([[true, "full x"], [false, "full x"]]);
    // Marking twice adds nothing.
    markNoisy(t);
    expect(t.rows[1]).toEqual(["auth", "900", "25%", "noisy"]);
    // A table with no `other` column names the scenario's noisy windows in a note.
    const bare: Table = { title: "encodings", columns: ["variant", "deliv/s"], rows: [["json", "1"]] };
    const run = { server: "json", round: 0, otherCpuPct: 31 } as RunResult;
    const r2: ScenarioResult = { ...r, tables: [bare], runs: [run], metrics: [{ id: "y", value: 1, better: "higher", describe: "" }] };
    stampResult(r2, true);
    expect(bare.notes).toEqual(["noisy windows in this scenario: json round 1 (other 31%); not a result, and left out of --compare verdicts."]);
    expect(r2.metrics[0]).toMatchObject({ noisy: true, point: "quick x" });
  });
});

describe("rendering", () => {
  const table = { title: "t", columns: ["server", "deliv/s", "note"], rows: [["tickgate", "1,000", "a|b"], ["bare", "900", ""]], notes: ["n1"] };

  test("text tables align and markdown tables escape pipes and right-align numbers", () => {
    const text = textTable(table).split("\n");
    expect(text[1]).toMatch(/^server\s+deliv\/s\s+note$/);
    expect(text[3]).toContain("tickgate    1,000");
    const md = markdownTable(table);
    expect(md).toContain("| --- | ---: | --- |");
    expect(md).toContain("a\\|b");
    expect(md).toContain("- n1");
  });

  test("the chart is one SVG with a bar per server and percentile, names escaped", () => {
    const svg = chartSvg(
      [{ title: "1k subs @ max", series: [
        { server: "tickgate", deliveriesPerSec: 900_000, latencyUs: { p50: 10_000, p90: 20_000, p99: 40_000, p999: 60_000, max: 70_000 } },
        { server: "a<b", deliveriesPerSec: 90_000, latencyUs: { p50: 12_000, p99: 90_000, p999: 100_000, max: 120_000 } },
      ] }],
      "machine & date",
    );
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("machine &amp; date");
    expect(svg).toContain("a&lt;b");
    expect(svg).not.toContain("a<b");
    // 5 latency bars for tickgate, 4 for the server without p90, 2 throughput bars, 2 legend swatches.
    expect(svg.match(/<rect /g)!.length).toBe(1 + 5 + 4 + 2 + 2);
    expect(chartSvg([], "x")).toContain("no server comparison");
  });
});
