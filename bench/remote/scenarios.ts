/**
 * The scenarios `tickgate bench --url` runs against a server it did not
 * start: the suite's fan-out, topics, ingest and connections, driven only
 * through the client protocol (publications are `pub` frames from client
 * connections, never broker.publish inside the server). Every topic starts
 * with `--prefix` (default `bench.`), so a token granting `<prefix>>` for
 * subscribe and publish is all a run needs.
 * @module
 */
import { fmt, type Metric, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { safeUrl, type Target } from "./conn.ts";
import { RemoteLoad, sleep } from "./load.ts";
import { measureRemote, remoteTable, serverNote, REMOTE_UNAVAILABLE, type RemoteRun } from "./measure.ts";
import type { MetricsSource } from "./server-metrics.ts";
import { pointOf } from "../lib/points.ts";

export interface RemoteContext {
  target: Target;
  metrics: MetricsSource;
  prefix: string;
}

type Result = Awaited<ReturnType<Scenario["run"]>>;

function rates(raw: string[], name: string): number[] {
  return raw.map((r) => {
    if (r === "max") return 0;
    const n = Number(r);
    if (!Number.isInteger(n) || n < 1 || n > 10_000_000) throw new Error(`${name}: --rates takes publications/s (1 to 10000000) or max, got '${r}'`);
    return n;
  });
}

/** A metric of a remote run: ids start with `remote.`, and the point names the server's URL as well. */
function metric(ctx: ScenarioContext, rc: RemoteContext, scenario: string, id: string, value: number, better: Metric["better"], describe: string): Metric {
  return { id: `remote.${scenario}.${id}`, value, better, describe, point: pointOf(`remote-${scenario}`, { ...ctx.flags.effective(), url: safeUrl(rc.target.url) }, ctx.quick), noisy: false };
}

/** Connects, measures one window per rate, closes. */
async function streamRuns(ctx: ScenarioContext, rc: RemoteContext, load: RemoteLoad, rateList: number[], o: { window: number; warmup: number; seconds: number; what: string }): Promise<RemoteRun[]> {
  ctx.progress.begin(ctx.flags.scenario, rateList.length + 1);
  ctx.progress.step(`connecting ${o.what}`);
  try {
    await load.connect();
    ctx.progress.log(`  ${load.conns.length} connections ready in ${fmt.int(load.connectMs)} ms`);
    const runs: RemoteRun[] = [];
    for (const rate of rateList) {
      const label = rate === 0 ? "max" : `${rate}/s`;
      ctx.progress.step(`${o.what}, publishing ${label}`);
      const r = await measureRemote(load, rc.metrics, { label, rate, window: o.window, warmup: o.warmup, seconds: o.seconds });
      ctx.progress.log(`  ${label.padEnd(8)} ${fmt.int(r.deliveriesPerSec)} deliveries/s, p99 ${fmt.us(r.latencyUs.p99)} µs, lost ${r.lost}, errors ${r.errorFrames}`);
      runs.push(r);
    }
    return runs;
  } finally {
    load.close();
  }
}

function streamMetrics(ctx: ScenarioContext, rc: RemoteContext, name: string, runs: RemoteRun[], res: Result): void {
  for (const r of runs) {
    const at = r.label.replace("/s", "");
    res.metrics.push(metric(ctx, rc, name, `${at}.deliveries_per_sec`, r.deliveriesPerSec, "higher", `deliveries/s at ${r.label}`));
    res.metrics.push(metric(ctx, rc, name, `${at}.p99_us`, r.latencyUs.p99, "lower", `p99 latency µs at ${r.label}`));
    if (Number.isFinite(r.serverCpuUsPerDelivery)) res.metrics.push(metric(ctx, rc, name, `${at}.server_cpu_us_per_delivery`, r.serverCpuUsPerDelivery, "lower", `server CPU µs per delivery at ${r.label} (from /metrics)`));
  }
}

const common = (quickSeconds: string) => [
  { name: "seconds", def: "5", quick: quickSeconds, help: "measured window per rate" },
  { name: "warmup", def: "1", quick: "0.3", help: "publishing before the window opens" },
  { name: "payload", def: "100", help: "tick payload bytes (≥ 62)" },
  { name: "sample", def: "16", quick: "1", help: "one delivery in N goes into the latency histogram" },
];

export function remoteScenarios(rc: RemoteContext): Scenario[] {
  const fanout: Scenario = {
    name: "fanout",
    describe: "1 client publisher (pub frames) → N subscribers on <prefix>fanout",
    flags: [
      { name: "subs", def: "1000", quick: "50", help: "subscriber connections" },
      { name: "rates", def: "100,500", quick: "100", help: "publications/s (or max: as fast as the subscribers keep up), one window each; one publishing connection, so the server's limits.publishPerSecond must allow it" },
      { name: "window", def: "128", help: "at max rate: publications ahead of the slowest subscriber" },
      ...common("0.5"),
    ],
    async run(ctx) {
      const f = ctx.flags;
      const res = emptyRemote();
      const subs = f.int("subs", 1, 50_000);
      const load = new RemoteLoad(rc.target, { prefix: rc.prefix, topics: 1, subs, perSub: 1, wildcards: 0, publishers: 1, payload: f.int("payload", 62, 60_000), sample: f.int("sample", 1, 1_000_000), ingest: false });
      const runs = await streamRuns(ctx, rc, load, rates(f.list("rates"), "fanout"), { window: f.int("window", 1, 1_000_000), warmup: f.num("warmup", 0, 60), seconds: f.num("seconds", 0.2, 600), what: `${fmt.int(subs)} subscribers on ${rc.prefix}fanout` });
      res.tables.push(remoteTable(`remote fanout: ${fmt.int(subs)} subscribers on ${rc.prefix}fanout, ${safeUrl(rc.target.url)}`, runs, rc.metrics));
      streamMetrics(ctx, rc, "fanout", runs, res);
      res.headline = headline(runs);
      res.data = { subs, runs };
      return res;
    },
  };

  const topics: Scenario = {
    name: "topics",
    describe: "K topics <prefix>t.<k> with a few subscribers each, plus wildcards on <prefix>t.*; publications round-robin",
    flags: [
      { name: "topics", def: "1000", quick: "50", help: "topics <prefix>t.0 … <prefix>t.<K-1>" },
      { name: "subs", def: "500", quick: "20", help: "subscriber connections, each on --topics-per-sub topics" },
      { name: "topics-per-sub", def: "4", quick: "3", help: "topics per subscriber connection" },
      { name: "wildcards", def: "2", quick: "1", help: "connections on <prefix>t.* (every topic)" },
      { name: "rates", def: "500", quick: "200", help: "publications/s (or max), one window each; one publishing connection, so limits.publishPerSecond must allow it" },
      { name: "window", def: "1024", help: "at max rate: publications ahead of the slowest subscriber" },
      ...common("0.5"),
    ],
    async run(ctx) {
      const f = ctx.flags;
      const res = emptyRemote();
      const K = f.int("topics", 2, 1_000_000);
      const subs = f.int("subs", 1, 50_000);
      const per = f.int("topics-per-sub", 1, Math.min(1000, K));
      const wild = f.int("wildcards", 0, 10_000);
      const load = new RemoteLoad(rc.target, { prefix: rc.prefix, topics: K, subs, perSub: per, wildcards: wild, publishers: 1, payload: f.int("payload", 62, 60_000), sample: f.int("sample", 1, 1_000_000), ingest: false });
      const runs = await streamRuns(ctx, rc, load, rates(f.list("rates"), "topics"), { window: f.int("window", 8, 1_000_000), warmup: f.num("warmup", 0, 60), seconds: f.num("seconds", 0.2, 600), what: `${fmt.int(subs)} × ${per} of ${fmt.int(K)} topics + ${wild} wildcards` });
      const fanout = (subs * per) / K + wild;
      res.tables.push(remoteTable(`remote topics: ${fmt.int(K)} topics, ${fmt.int(subs)} connections × ${per} topics + ${wild} on ${rc.prefix}t.* ≈ ${fmt.f(fanout, 1)} deliveries per publication`, runs, rc.metrics, ["stray: a publication on a topic the connection did not subscribe to (must be 0)."]));
      streamMetrics(ctx, rc, "topics", runs, res);
      res.headline = headline(runs);
      res.data = { topics: K, subs, perSub: per, wildcards: wild, fanout, runs };
      return res;
    },
  };

  const ingest: Scenario = {
    name: "ingest",
    describe: "D device connections each publishing <prefix>ingest.d<i> (pub frames), listeners on <prefix>ingest.>",
    flags: [
      { name: "devices", def: "200", quick: "20", help: "publishing device connections" },
      { name: "listeners", def: "1", help: "connections on <prefix>ingest.> (each receives every publication)" },
      { name: "rates", def: "2000", quick: "200", help: "publications/s of all devices together (round-robin), one window each" },
      ...common("0.5"),
    ],
    async run(ctx) {
      const f = ctx.flags;
      const res = emptyRemote();
      const devices = f.int("devices", 1, 50_000);
      const listeners = f.int("listeners", 1, 100);
      const load = new RemoteLoad(rc.target, { prefix: rc.prefix, topics: 1, subs: listeners, perSub: 1, wildcards: 0, publishers: devices, payload: f.int("payload", 62, 60_000), sample: f.int("sample", 1, 1_000_000), ingest: true });
      const rateList = rates(f.list("rates"), "ingest");
      if (rateList.includes(0)) throw new Error("ingest: --rates max is not supported remotely (devices publish at a set rate)");
      const runs = await streamRuns(ctx, rc, load, rateList, { window: 0, warmup: f.num("warmup", 0, 60), seconds: f.num("seconds", 0.2, 600), what: `${fmt.int(devices)} devices, ${listeners} listener(s)` });
      res.tables.push(remoteTable(`remote ingest: ${fmt.int(devices)} devices publishing ${rc.prefix}ingest.d<i>, ${listeners} listener(s) on ${rc.prefix}ingest.>`, runs, rc.metrics, ["pub/s: device publications sent; deliv/s: what the listeners received; lost: counted by the first listener per device."]));
      for (const r of runs) {
        const at = r.label.replace("/s", "");
        res.metrics.push(metric(ctx, rc, "ingest", `${at}.deliveries_per_sec`, r.deliveriesPerSec, "higher", `listener deliveries/s at ${r.label}`));
        res.metrics.push(metric(ctx, rc, "ingest", `${at}.p99_us`, r.latencyUs.p99, "lower", `device → listener p99 µs at ${r.label}`));
        if (Number.isFinite(r.serverCpuUsPerPublication)) res.metrics.push(metric(ctx, rc, "ingest", `${at}.server_cpu_us_per_publication`, r.serverCpuUsPerPublication, "lower", `server CPU µs per device publication at ${r.label} (from /metrics)`));
      }
      res.headline = headline(runs);
      res.data = { devices, listeners, runs };
      return res;
    },
  };

  const connections: Scenario = {
    name: "connections",
    describe: "open N connections subscribed to <prefix>conns; connect + subscribe rate, server memory per connection (from /metrics), one broadcast",
    flags: [
      { name: "target", def: "5000", quick: "200", help: "connections to open and hold" },
      { name: "concurrency", def: "64", help: "connects in flight at once" },
      { name: "hold", def: "2", quick: "0.2", help: "seconds to hold them before the broadcast" },
    ],
    async run(ctx) {
      const f = ctx.flags;
      const res = emptyRemote();
      const n = f.int("target", 1, 60_000);
      const hold = f.num("hold", 0, 600);
      ctx.progress.begin("connections", 3);
      const s0 = await rc.metrics.sample();
      const load = new RemoteLoad(rc.target, { prefix: rc.prefix, topics: 1, subs: n, perSub: 1, wildcards: 0, publishers: 1, payload: 100, sample: 1, ingest: false, single: "conns" });
      try {
        ctx.progress.step(`opening ${fmt.int(n)} connections, ${f.int("concurrency", 1, 10_000)} at a time`);
        await load.connect(f.int("concurrency", 1, 10_000));
        const perSec = (n + 1) / (load.connectMs / 1000);
        ctx.progress.step(`holding ${fmt.int(n)} for ${hold} s`);
        await sleep(hold * 1000);
        const s1 = await rc.metrics.sample();
        ctx.progress.step("one publication to every connection");
        const t0 = performance.now();
        load.publishOnce();
        const fin = await load.final(30_000);
        const reachMs = performance.now() - t0;
        const reached = fin.deliveries;
        const kib = s0 && s1 ? (s1.rssBytes - s0.rssBytes) / 1024 / n : NaN;
        const held = s1 && Number.isFinite(s1.connections) ? s1.connections : NaN;
        res.tables.push({
          title: `remote connections: ${fmt.int(n)} subscribed to ${rc.prefix}conns, ${safeUrl(rc.target.url)}`,
          columns: ["opened", "connect + subscribe ms", "connects/s", "server sees", "srv RSS before MiB", "srv RSS after MiB", "KiB/conn", "broadcast reached", "reach ms", "lost", "errors"],
          rows: [[fmt.int(load.conns.length), fmt.int(load.connectMs), fmt.int(perSec), fmt.int(held), fmt.f(s0 ? s0.rssBytes / 2 ** 20 : NaN, 1), fmt.f(s1 ? s1.rssBytes / 2 ** 20 : NaN, 1), fmt.f(kib, 2), fmt.int(reached), fmt.int(reachMs), String(fin.lost), String(fin.errorFrames)]],
          notes: ["connect + subscribe: from the first connect to the last `sub` ack (one extra connection publishes the broadcast). KiB/conn: server RSS after − before ÷ connections, no forced GC; it includes whatever else the server did meanwhile.", serverNote(rc.metrics), REMOTE_UNAVAILABLE],
        });
        res.metrics.push(metric(ctx, rc, "connections", "connects_per_sec", perSec, "higher", "connections opened and subscribed per second"));
        // RSS can fall while connections are added (a GC the bench cannot force remotely): no figure then.
        if (Number.isFinite(kib) && kib > 0) res.metrics.push(metric(ctx, rc, "connections", "kib_per_connection", kib, "lower", "server RSS per subscribed connection, KiB (from /metrics)"));
        res.headline = `${fmt.int(n)} connections at ${fmt.int(perSec)}/s, broadcast reached ${fmt.int(reached)}${Number.isFinite(kib) ? `, ${fmt.f(kib, 2)} KiB each` : ""}`;
        res.data = { opened: load.conns.length, connectMs: load.connectMs, perSec, reached, reachMs, lost: fin.lost, errorFrames: fin.errorFrames, kibPerConnection: kib, serverConnections: held };
      } finally {
        load.close();
      }
      return res;
    },
  };

  return [fanout, topics, ingest, connections];
}

function emptyRemote(): Result {
  return { headline: "", tables: [], targets: [], metrics: [], notes: [], runs: [], chart: [], data: {} };
}

function headline(runs: RemoteRun[]): string {
  return runs.map((r) => `${r.label}: ${fmt.int(r.deliveriesPerSec)} deliveries/s, p99 ${fmt.us(r.latencyUs.p99)} µs, lost ${r.lost}`).join("; ");
}
