/**
 * `slow`: do subscribers that stop reading hurt the ones that read? The
 * same fan-out twice: every subscriber reading, then with every 10th one a
 * raw TCP client that pauses its socket (stops reading) before publishing
 * starts. Compares the fast subscribers' latency and reports the server's
 * peak memory (VmHWM) and what its slow-consumer policy did.
 * @module
 */
import { summarize, type RunResult } from "../lib/report.ts";
import { emptyResult, fmt, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { benchRoute, NO_WINDOW, runTickgate } from "../lib/tickgate-run.ts";
import { quietest } from "../lib/window.ts";

export const slowScenario: Scenario = {
  name: "slow",
  describe: "fast subscribers' latency with and without 10% of subscribers that stop reading; server peak memory",
  flags: [
    { name: "subs", def: "500", quick: "100", help: "subscriber connections in both runs" },
    { name: "slow-every", def: "10", help: "every Nth subscriber stops reading in the second run (10 = 10%)" },
    { name: "rate", def: "50", quick: "100", help: "publications/s (paced; slow readers must not set the pace)" },
    { name: "payload", def: "16000", quick: "500", help: "payload bytes: a paused reader's kernel buffers take ~4 MB before the server queues anything" },
    { name: "action", def: "conflate", help: "the topic's backpressure policy: conflate | drop | disconnect" },
    { name: "limit-bytes", def: "1048576", help: "bytes queued per subscriber before the policy acts" },
    { name: "seconds", def: "6", quick: "1.5", help: "measured window per run" },
    { name: "warmup", def: "8", quick: "0.3", help: "publishing before the window opens: long enough that paused readers pass the limit" },
    { name: "retries", def: "1", quick: "0", help: "re-runs of a measurement other programs disturbed" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const subs = f.int("subs", 2, 50_000);
    const every = f.int("slow-every", 2, 1_000_000);
    const rate = f.int("rate", 1, 1_000_000);
    const payload = f.int("payload", 62, 60_000);
    const action = f.str("action");
    if (!["conflate", "drop", "disconnect"].includes(action)) throw new Error("slow: --action is conflate, drop or disconnect");
    const limit = f.int("limit-bytes", 1024, 15 * 1024 * 1024);
    const [seconds, warmup, retries] = [f.num("seconds", 0.2, 600), f.num("warmup", 0, 60), f.int("retries", 0, 10)];
    const slowCount = Math.floor(subs / every);
    const variants = [
      { label: "all reading", slowEvery: 0 },
      { label: `${((100 * slowCount) / subs).toFixed(0)}% paused`, slowEvery: every },
    ];
    ctx.progress.begin("slow", variants.length);
    const runs: RunResult[] = [];
    for (const v of variants) {
      ctx.progress.step(`${v.label}: ${fmt.int(subs)} subscribers, ${rate}/s, ${payload}-byte payload, policy ${action} past ${fmt.int(limit)} bytes`);
      const r = await quietest(retries, () =>
        runTickgate({
          label: v.label, round: 0, conns: subs, fanout: subs - (v.slowEvery ? slowCount : 0),
          serverArgs: ["--payload", String(payload), "--action", action, "--limit-bytes", String(limit)],
          clientArgs: ["--subs", String(subs), "--slow-every", String(v.slowEvery), "--sample", "4"],
          rate, batch: 8, window: NO_WINDOW, warmup, seconds,
          before: async (_s, client) => void (v.slowEvery && (await client.request({ cmd: "pause" }))),
          after: async ({ port }) => benchRoute(port, "GET", "/bench/counters"),
        }, ctx.env),
      (r) => ctx.progress.log(`  ${v.label.padEnd(12)} fast p99 ${r.latencyUs.p99} µs, ${fmt.int(r.deliveriesPerSec)} deliveries/s to fast readers, server peak ${fmt.kib(r.serverHwmKiB ?? NaN)}, other programs ${fmt.pct(r.otherCpuPct)}`));
      runs.push(r);
    }
    res.runs = runs;
    const [a, b] = [summarize([runs[0]!]), summarize([runs[1]!])];
    const guard = (r: RunResult) => (r.extra?.guard ?? {}) as Record<string, number>;
    res.tables.push({
      title: `slow: ${fmt.int(subs)} subscribers, ${rate} publications/s, ${payload}-byte payload, policy ${action} past ${fmt.int(limit)} bytes`,
      columns: ["run", "fast subs", "deliv/s (fast)", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "fast lost", "srv CPU", "cli CPU", "srv peak RSS", "paused", "got (paused)", "lag events", "dropped", "conflated", "disconnects", "other"],
      rows: runs.map((r) => {
        const g = guard(r);
        return [
          r.server, fmt.int(subs - (r.slow?.conns ?? 0)), fmt.int(r.deliveriesPerSec),
          fmt.us(r.latencyUs.p50), fmt.us(r.latencyUs.p90), fmt.us(r.latencyUs.p99), fmt.us(r.latencyUs.p999), fmt.us(r.latencyUs.max),
          String(r.lost), fmt.pct(r.serverCpuPct), fmt.pct(r.clientCpuPct), fmt.kib(r.serverHwmKiB ?? NaN),
          String(r.slow?.conns ?? 0), fmt.int(r.slow?.deliveries ?? 0), fmt.int(g.lagEvents ?? 0), fmt.int(g.dropped ?? 0), fmt.int(g.conflated ?? 0), fmt.int(g.disconnects ?? 0), fmt.pct(r.otherCpuPct),
        ];
      }),
      notes: [
        "paused: raw TCP subscribers whose sockets stop reading (socket.pause()) before publishing starts; got: what they had read by then.",
        "lag events / dropped / conflated / disconnects: the server's slow-consumer counters after the window.",
        `a paused reader's kernel socket buffers hold ~4 MB on this loopback before the server queues anything; the warm-up (${warmup} s at ${fmt.int((rate * payload) / 1024)} KiB/s per reader) is meant to get past that and the limit before the window opens.`,
      ],
    });
    res.metrics.push({ id: "slow.fast_p99_ratio", value: b.latencyUs.p99 / a.latencyUs.p99, better: "lower", describe: "fast subscribers' p99, with paused readers ÷ without" });
    res.headline = `fast p99 ${fmt.us(a.latencyUs.p99)} µs → ${fmt.us(b.latencyUs.p99)} µs with ${slowCount} paused (${fmt.ratio(b.latencyUs.p99 / a.latencyUs.p99)}); server peak ${fmt.kib(runs[1]!.serverHwmKiB ?? NaN)}`;
    res.data = { subs, slowCount, action, limit };
    return res;
  },
};
