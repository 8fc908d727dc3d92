/**
 * `ingest`: the other direction. (1) Many device connections each publish
 * telemetry as client `pub` frames (decoded, validated, rate-limited,
 * sequenced and fanned out to listeners on `telemetry.>`) at a paced rate:
 * loss and latency. (2) The same devices at max rate against tickgate and
 * nats-server's WebSocket listener in the same run (`PUB` frames with the
 * same tick bytes, listeners on `telemetry.>`): server CPU µs per
 * publication and publications/s per server core, the ingest target.
 * (3) HTTP `POST /api/publish` (JSON) driven by autocannon.
 * @module
 */
import { existsSync } from "node:fs";
import { Child } from "../lib/child.ts";
import { coreTimes, coreUsage, cpuTicks, fdLimitPrefix } from "../lib/proc.ts";
import { peer } from "../lib/peers.ts";
import { NOISY_PCT, type Latency } from "../lib/report.ts";
import { emptyResult, fmt, type RunEnv, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { check } from "../lib/targets.ts";
import { benchRoute } from "../lib/tickgate-run.ts";
import { otherCpu } from "../lib/window.ts";

const SERVER = `${import.meta.dir}/../servers/tickgate.ts`;
const DEVICES = `${import.meta.dir}/clients/devices.ts`;
const AUTOCANNON = `${import.meta.dir}/../../node_modules/autocannon/autocannon.js`;

/** Why autocannon cannot run here, or null. */
export function autocannonMissing(): string | null {
  if (!Bun.which("node")) return "node is not on PATH";
  if (!existsSync(AUTOCANNON)) return "autocannon is not installed (npm install)";
  return null;
}

/** CPU of a set of processes and of the machine between two points. */
function sampler(pids: number[]) {
  const t0 = performance.now();
  const k0 = coreTimes();
  const c0 = pids.map((p) => cpuTicks(p));
  return (hz: number) => {
    const wall = (performance.now() - t0) / 1000;
    const c1 = pids.map((p) => cpuTicks(p));
    const cpu = c1.map((c, i) => (c.total - c0[i]!.total) / hz);
    const user = c1.map((c, i) => (c.user - c0[i]!.user) / hz);
    const pct = cpu.map((c) => (100 * c) / wall);
    return { wall, cpu, user, pct, other: otherCpu(coreUsage(k0, coreTimes()), pct.reduce((a, b) => a + b, 0)) };
  };
}

type IngestServer = "tickgate" | "nats";

interface DevicesOpts {
  server: IngestServer;
  devices: number;
  listeners: number;
  /** Publications/s of all devices; 0 = max rate under the window. */
  rate: number;
  window: number;
  batch: number;
  seconds: number;
  warmup: number;
  payload: number;
}

export type DevicesRun = Awaited<ReturnType<typeof devicesRun>>;

function serverArgv(o: DevicesOpts): string[] {
  if (o.server === "nats") return peer("nats").command({ payload: o.payload });
  return [process.execPath, SERVER, "--payload", String(o.payload), "--publish-limit", "1000000000"];
}

/** One measured window: a server (tickgate or nats-server) on its core, the devices and listeners on theirs. */
async function devicesRun(env: RunEnv, o: DevicesOpts) {
  const fd = fdLimitPrefix(o.devices + o.listeners + 256).prefix;
  const server = new Child(`${o.server} server (ingest)`, [...fd, ...env.place.server, ...serverArgv(o)]);
  try {
    const info = await server.next((x) => x.ready === true, 20_000);
    const port = info.port as number;
    const client = new Child("devices", [...fd, ...env.place.client, process.execPath, DEVICES, "--server", o.server, "--port", String(port), "--devices", String(o.devices), "--listeners", String(o.listeners), "--payload", String(o.payload)]);
    try {
      const ready = await client.next((x) => x.ready === true, 120_000);
      await client.request({ cmd: "start", rate: o.rate, window: o.window, batch: o.batch, maxSeconds: o.warmup + o.seconds + 20 });
      await Bun.sleep(o.warmup * 1000);
      // nats-server keeps no count we can read: what the first listener received is what was accepted.
      const counter = async () => (o.server === "tickgate" ? ((await benchRoute(port, "GET", "/bench/counters")).publications as number) : NaN);
      const c0 = await counter();
      const m0 = await client.request({ cmd: "mark" });
      const end = sampler([server.pid, client.pid]);
      await Bun.sleep(o.seconds * 1000);
      const s = end(env.hz);
      const m1 = await client.request({ cmd: "report" });
      const c1 = await counter();
      const stop = await client.request({ cmd: "stop" });
      const fin = await client.request({ cmd: "final", timeoutMs: 5000 }, 15_000);
      const secs = ((m1.t as number) - (m0.t as number)) / 1000;
      const heard = (m1.firstDeliveries as number) - (m0.firstDeliveries as number);
      const pubs = Number.isFinite(c1 - c0) ? c1 - c0 : heard;
      const cores = s.pct[0]! / 100;
      return {
        server: o.server,
        connectMs: ready.connectMs as number,
        offered: o.rate,
        sentPerSec: ((m1.published as number) - (m0.published as number)) / secs,
        acceptedPerSec: pubs / s.wall,
        deliveredPerSec: ((m1.deliveries as number) - (m0.deliveries as number)) / secs,
        serverCpuPct: s.pct[0]!,
        clientCpuPct: s.pct[1]!,
        otherCpuPct: s.other,
        serverUsPerPublication: pubs > 0 ? (s.cpu[0]! * 1e6) / pubs : NaN,
        /** The user-space part: the server's own code (the kernel part is socket reads and writes, alike for both). */
        serverUserUsPerPublication: pubs > 0 ? (s.user[0]! * 1e6) / pubs : NaN,
        /** Publications/s one fully busy server core would accept at this cost. */
        pubsPerCore: cores > 0 ? pubs / s.wall / cores : NaN,
        latencyUs: m1.latencyUs as Latency,
        published: stop.published as number,
        lost: fin.lost as number,
        dup: fin.dup as number,
        errorFrames: (fin.errorFrames as number) + (fin.malformed as number) + (fin.shortWrites as number),
        closedConns: fin.closedConns as number,
        failures: fin.failures as string[],
      };
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

/** Re-runs a window other programs disturbed (other CPU above the noise line), keeping the quietest. */
async function quietestRun(retries: number, once: () => Promise<DevicesRun>, log: (r: DevicesRun) => void): Promise<DevicesRun & { attempts: number }> {
  let best: DevicesRun | null = null;
  let attempts = 0;
  for (let i = 0; i <= retries; i++) {
    const r = await once();
    attempts++;
    log(r);
    if (!best || r.otherCpuPct < best.otherCpuPct) best = r;
    if (r.otherCpuPct <= NOISY_PCT) break;
  }
  return { ...best!, attempts };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function httpRun(env: RunEnv, o: { connections: number; seconds: number; warmup: number }) {
  const server = new Child("tickgate server (HTTP ingest)", [...env.place.server, process.execPath, SERVER, "--publish-limit", "1000000000"]);
  try {
    const info = await server.next((x) => x.ready === true, 20_000);
    const port = info.port as number;
    // A listener on telemetry.>, so every accepted publication is also a delivery to count.
    const listener = new Child("http listener", [...env.place.client, process.execPath, DEVICES, "--port", String(port), "--devices", "1", "--listeners", "1"]);
    try {
      await listener.next((x) => x.ready === true, 20_000);
      const body = JSON.stringify({ topic: "telemetry.http", key: "gw-1", data: { sym: "BTC-USD", px: 64000.5, qty: 0.25, ts: 1_700_000_000_000 } });
      const cannon = (seconds: number) => [...env.place.client, "node", AUTOCANNON, "-c", String(o.connections), "-d", String(seconds), "-m", "POST", "-H", "content-type=application/json", "-b", body, "--json", `http://127.0.0.1:${port}/api/publish`];
      if (o.warmup > 0) {
        const w = new Child("autocannon warm-up", cannon(Math.max(1, Math.round(o.warmup))));
        await w.next((x) => "2xx" in x, (o.warmup + 30) * 1000);
        await w.stop(100);
      }
      const c0 = await benchRoute(port, "GET", "/bench/counters");
      const d0 = await listener.request({ cmd: "mark" });
      const ac = new Child("autocannon", cannon(o.seconds));
      // autocannon's own CPU is the load, not "other programs".
      const end = sampler([server.pid, ac.pid]);
      const out = await ac.next((x) => "2xx" in x, (o.seconds + 30) * 1000);
      const s = end(env.hz);
      await ac.stop(100);
      const c1 = await benchRoute(port, "GET", "/bench/counters");
      await Bun.sleep(200); // the last deliveries to the listener
      const d1 = await listener.request({ cmd: "mark" });
      const pubs = (c1.publications as number) - (c0.publications as number);
      const lat = out.latency as Record<string, number>;
      return {
        connections: o.connections,
        requestsPerSec: (out.requests as { average: number }).average,
        ok: out["2xx"] as number,
        non2xx: out.non2xx as number,
        errors: (out.errors as number) + (out.timeouts as number),
        accepted: pubs,
        delivered: (d1.httpDeliveries as number) - (d0.httpDeliveries as number),
        serverCpuPct: s.pct[0]!,
        clientCpuPct: s.pct[1]!,
        otherCpuPct: s.other,
        serverUsPerRequest: pubs > 0 ? (s.cpu[0]! * 1e6) / pubs : NaN,
        latencyMs: { p50: lat.p50!, p90: lat.p90!, p99: lat.p99!, p999: lat.p99_9!, max: lat.max! },
      };
    } finally {
      await listener.stop();
    }
  } finally {
    await server.stop();
  }
}

export const ingestScenario: Scenario = {
  name: "ingest",
  describe: "device connections publishing telemetry (pub frames), paced and at max rate against nats-server; HTTP POST /api/publish driven by autocannon",
  flags: [
    { name: "devices", def: "2000", quick: "100", help: "device connections, each publishing to telemetry.d<i>" },
    { name: "rate", def: "20000", quick: "1000", help: "publications/s of all devices together (round-robin), paced row" },
    { name: "listeners", def: "1", help: "connections subscribed to telemetry.> (each receives every publication)" },
    { name: "max-servers", def: "tickgate,nats", help: "servers of the max-rate comparison (tickgate, nats); 'none' skips it" },
    { name: "max-devices", def: "2000", quick: "100", help: "device connections of the max-rate comparison" },
    { name: "window", def: "512", quick: "64", help: "max rate: publications in flight (sent, not yet at the first listener)" },
    { name: "batch", def: "64", quick: "16", help: "max rate: publications written per event-loop turn at most" },
    { name: "rounds", def: "2", quick: "1", help: "max-rate rounds per server; the order alternates; medians are reported" },
    { name: "retries", def: "2", quick: "0", help: "re-runs of a max-rate window other programs disturbed (other CPU > 10%)" },
    { name: "http-connections", def: "32", quick: "8", help: "autocannon connections for POST /api/publish; 0 skips HTTP" },
    { name: "seconds", def: "5", quick: "1", help: "measured window (autocannon -d)" },
    { name: "warmup", def: "1", quick: "0.3", help: "publishing before the window opens" },
    { name: "payload", def: "100", help: "tick payload bytes of a device publication" },
  ],

  async run(ctx: ScenarioContext) {
    const f = ctx.flags;
    const res = emptyResult();
    const devices = f.int("devices", 1, 50_000);
    const rate = f.int("rate", 1, 10_000_000);
    const listeners = f.int("listeners", 1, 100);
    const httpConns = f.int("http-connections", 0, 10_000);
    const seconds = f.num("seconds", 0.2, 600);
    const warmup = f.num("warmup", 0, 60);
    const payload = f.int("payload", 62, 60_000);
    const maxServers = f.list("max-servers").filter((x) => x !== "none");
    for (const x of maxServers) if (x !== "tickgate" && x !== "nats") throw new Error(`ingest: --max-servers takes tickgate and nats, got '${x}'`);
    const rounds = f.int("rounds", 1, 20);
    const natsMissing = peer("nats").unavailable();
    const maxRun = maxServers.filter((x) => x !== "nats" || natsMissing === null) as IngestServer[];
    ctx.progress.begin("ingest", 1 + maxRun.length * rounds + (httpConns > 0 ? 1 : 0));

    ctx.progress.step(`${fmt.int(devices)} devices publishing ${fmt.int(rate)}/s in all, ${listeners} listener(s) on telemetry.>`);
    const d = await devicesRun(ctx.env, { server: "tickgate", devices, listeners, rate, window: 0, batch: 1, seconds, warmup, payload });
    ctx.progress.log(`  devices: ${fmt.int(d.acceptedPerSec)} publications/s accepted, server ${fmt.f(d.serverUsPerPublication, 2)} µs/publication, p99 ${d.latencyUs.p99} µs, other programs ${fmt.pct(d.otherCpuPct)}`);
    res.tables.push({
      title: `ingest over WebSocket: ${fmt.int(devices)} devices, ${fmt.int(rate)} publications/s offered, ${listeners} listener(s) on telemetry.>`,
      columns: ["sent/s", "accepted/s", "delivered/s", "srv µs/pub", "srv CPU", "cli CPU", "other", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "lost", "dup", "errors", "connect ms"],
      rows: [[
        fmt.int(d.sentPerSec), fmt.int(d.acceptedPerSec), fmt.int(d.deliveredPerSec), fmt.f(d.serverUsPerPublication, 2), fmt.pct(d.serverCpuPct), fmt.pct(d.clientCpuPct), fmt.pct(d.otherCpuPct),
        fmt.us(d.latencyUs.p50), fmt.us(d.latencyUs.p90), fmt.us(d.latencyUs.p99), fmt.us(d.latencyUs.p999), fmt.us(d.latencyUs.max),
        String(d.lost), String(d.dup), String(d.errorFrames), fmt.int(d.connectMs),
      ]],
      notes: ["accepted: publications the server sequenced (its counter); latency: device send → listener receive; srv µs/pub includes the fan-out to the listener(s)."],
    });
    res.metrics.push({ id: "ingest.devices.cpu_per_publication_us", value: d.serverUsPerPublication, better: "lower", describe: "server CPU µs per device publication (pub frame in, one delivery out per listener)" });
    res.data.devices = d;
    res.headline = `devices: ${fmt.int(d.acceptedPerSec)} pub/s at ${fmt.f(d.serverUsPerPublication, 2)} µs each`;

    if (maxServers.includes("nats") && natsMissing !== null) res.notes.push(`nats: unavailable here (${natsMissing}); not measured.`);
    if (maxRun.length > 0) {
      const maxDevices = f.int("max-devices", 1, 50_000);
      const window = f.int("window", 1, 1_000_000);
      const batch = f.int("batch", 1, 100_000);
      const retries = f.int("retries", 0, 10);
      const runs: (DevicesRun & { attempts: number; round: number })[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const server of round % 2 === 0 ? maxRun : [...maxRun].reverse()) {
          ctx.progress.step(`${server}: ${fmt.int(maxDevices)} devices at max rate (window ${window}), round ${round + 1}/${rounds}`);
          const r = await quietestRun(retries, () => devicesRun(ctx.env, { server, devices: maxDevices, listeners, rate: 0, window, batch, seconds, warmup, payload }), (r) =>
            ctx.progress.log(`  round ${round + 1} ${server.padEnd(8)} ${fmt.int(r.acceptedPerSec).padStart(9)} pub/s, server ${fmt.f(r.serverUsPerPublication, 2)} µs/pub (user ${fmt.f(r.serverUserUsPerPublication, 2)}; ${fmt.pct(r.serverCpuPct)} CPU), ${fmt.int(r.pubsPerCore)} pub/s per core, client ${fmt.pct(r.clientCpuPct)}, other programs ${fmt.pct(r.otherCpuPct)}`));
          runs.push({ ...r, round });
        }
      }
      const by = Object.fromEntries(maxRun.map((x) => {
        const rs = runs.filter((r) => r.server === x);
        const m = (k: (r: DevicesRun) => number) => median(rs.map(k));
        return [x, {
          acceptedPerSec: m((r) => r.acceptedPerSec), serverUsPerPublication: m((r) => r.serverUsPerPublication), serverUserUsPerPublication: m((r) => r.serverUserUsPerPublication), pubsPerCore: m((r) => r.pubsPerCore),
          serverCpuPct: m((r) => r.serverCpuPct), clientCpuPct: m((r) => r.clientCpuPct), otherCpuPct: Math.max(...rs.map((r) => r.otherCpuPct)),
          p50: m((r) => r.latencyUs.p50), p99: m((r) => r.latencyUs.p99),
          lost: rs.reduce((a, r) => a + r.lost, 0), dup: rs.reduce((a, r) => a + r.dup, 0), errors: rs.reduce((a, r) => a + r.errorFrames + r.closedConns, 0),
          spread: rs.length > 1 ? (Math.max(...rs.map((r) => r.pubsPerCore)) - Math.min(...rs.map((r) => r.pubsPerCore))) / m((r) => r.pubsPerCore) : 0,
        }];
      }));
      const base = by.nats;
      res.tables.push({
        title: `ingest at max rate: ${fmt.int(maxDevices)} devices, ${listeners} listener(s) on telemetry.>, window ${window} (medians of ${rounds} round(s))`,
        columns: ["server", "pub/s", "srv CPU", "srv µs/pub", "user µs/pub", "pub/s per core", "× nats", "cli CPU", "other", "p50 µs", "p99 µs", "lost", "dup", "errors", "spread", "note"],
        rows: Object.entries(by).map(([x, b]) => [
          x, fmt.int(b.acceptedPerSec), fmt.pct(b.serverCpuPct), fmt.f(b.serverUsPerPublication, 2), fmt.f(b.serverUserUsPerPublication, 2), fmt.int(b.pubsPerCore), base ? fmt.ratio(b.pubsPerCore / base.pubsPerCore) : "-",
          fmt.pct(b.clientCpuPct), fmt.pct(b.otherCpuPct), fmt.us(b.p50), fmt.us(b.p99), String(b.lost), String(b.dup), String(b.errors), `${(b.spread * 100).toFixed(1)}%`,
          [b.clientCpuPct >= 90 ? "client saturated" : "", b.otherCpuPct > NOISY_PCT ? "noisy" : ""].filter(Boolean).join(", "),
        ]),
        notes: [
          "pub/s per core: publications/s ÷ the server's CPU in cores (what one busy core would accept at this cost); nats-server is pinned to one core like tickgate (GOMAXPROCS follows the pinning).",
          "tickgate: pub frames {t, topic, data} on tickgate.msgpack, sequenced, retained per topic and fanned out; nats-server: PUB telemetry.d<i> with the same tick bytes. pub/s: tickgate's publication counter, nats-server's as its first listener received them.",
        ],
      });
      res.data.max = { devices: maxDevices, window, batch, rounds, runs, summary: by };
      for (const [x, b] of Object.entries(by)) res.metrics.push({ id: `ingest.max.${x}.cpu_per_publication_us`, value: b.serverUsPerPublication, better: "lower", describe: `server CPU µs per device publication at max rate (${x})` });
      const tg = by.tickgate;
      const ratio = tg && base ? tg.pubsPerCore / base.pubsPerCore : null;
      if (ratio !== null) res.metrics.push({ id: "ingest.max.pubs_per_core_vs_nats", value: ratio, better: "higher", describe: "publications/s per server core, tickgate ÷ nats-server (max rate)" });
      const noisy = Object.values(by).some((b) => b.otherCpuPct > NOISY_PCT);
      res.targets.push(check("ingest.pubs_per_core_vs_nats", ratio, ratio === null ? (natsMissing ? `nats-server unavailable (${natsMissing})` : "tickgate and nats-server not both in --max-servers") : noisy ? "other programs used > 10% CPU in a window: noisy" : undefined));
      if (tg) res.headline += `; max rate: ${fmt.int(tg.pubsPerCore)} pub/s per core${ratio !== null ? ` (${fmt.ratio(ratio)} nats-server)` : ""}`;
    }

    if (httpConns > 0) {
      const missing = autocannonMissing();
      if (missing) {
        res.notes.push(`HTTP publish not measured: ${missing}.`);
      } else {
        ctx.progress.step(`HTTP POST /api/publish, autocannon -c ${httpConns} -d ${seconds}`);
        const h = await httpRun(ctx.env, { connections: httpConns, seconds: Math.max(1, Math.round(seconds)), warmup });
        ctx.progress.log(`  http: ${fmt.int(h.requestsPerSec)} requests/s, server ${fmt.f(h.serverUsPerRequest, 1)} µs/request, p99 ${h.latencyMs.p99} ms`);
        res.tables.push({
          title: `ingest over HTTP: POST /api/publish (application/json), autocannon ${httpConns} connections`,
          columns: ["req/s", "2xx", "non-2xx", "errors", "accepted", "delivered", "srv µs/req", "srv CPU", "autocannon CPU", "other", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"],
          rows: [[
            fmt.int(h.requestsPerSec), fmt.int(h.ok), String(h.non2xx), String(h.errors), fmt.int(h.accepted), fmt.int(h.delivered), fmt.f(h.serverUsPerRequest, 1), fmt.pct(h.serverCpuPct), fmt.pct(h.clientCpuPct), fmt.pct(h.otherCpuPct),
            String(h.latencyMs.p50), String(h.latencyMs.p90), String(h.latencyMs.p99), String(h.latencyMs.p999), String(h.latencyMs.max),
          ]],
          notes: ["autocannon (Node, pinned to the client core) reports latency in whole milliseconds; accepted: the server's publication counter over the run; delivered: what a listener on telemetry.> received of them."],
        });
        res.metrics.push({ id: "ingest.http.cpu_per_request_us", value: h.serverUsPerRequest, better: "lower", describe: "server CPU µs per HTTP publish" });
        res.data.http = h;
        res.headline += `; HTTP: ${fmt.int(h.requestsPerSec)} req/s at ${fmt.f(h.serverUsPerRequest, 1)} µs each`;
      }
    }
    return res;
  },
};
