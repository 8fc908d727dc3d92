/**
 * `ingest`: the other direction. (1) Many device connections each publish
 * telemetry as client `pub` frames (decoded, validated, rate-limited,
 * sequenced and fanned out to listeners on `telemetry.>`); (2) HTTP
 * `POST /api/publish` (JSON) driven by autocannon. Server CPU per
 * publication for both, loss and latency for the devices.
 * @module
 */
import { existsSync } from "node:fs";
import { Child } from "../lib/child.ts";
import { coreTimes, coreUsage, cpuTicks, fdLimitPrefix } from "../lib/proc.ts";
import type { Latency } from "../lib/report.ts";
import { emptyResult, fmt, type RunEnv, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
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
  const c0 = pids.map((p) => cpuTicks(p).total);
  return (hz: number) => {
    const wall = (performance.now() - t0) / 1000;
    const cpu = pids.map((p, i) => (cpuTicks(p).total - c0[i]!) / hz);
    const pct = cpu.map((c) => (100 * c) / wall);
    return { wall, cpu, pct, other: otherCpu(coreUsage(k0, coreTimes()), pct.reduce((a, b) => a + b, 0)) };
  };
}

async function devicesRun(ctx: ScenarioContext, env: RunEnv, o: { devices: number; listeners: number; rate: number; seconds: number; warmup: number; payload: number }) {
  const fd = fdLimitPrefix(o.devices + o.listeners + 256).prefix;
  const server = new Child("tickgate server (ingest)", [...fd, ...env.place.server, process.execPath, SERVER, "--payload", String(o.payload), "--publish-limit", "1000000000"]);
  try {
    const info = await server.next((x) => x.ready === true, 20_000);
    const port = info.port as number;
    const client = new Child("devices", [...fd, ...env.place.client, process.execPath, DEVICES, "--port", String(port), "--devices", String(o.devices), "--listeners", String(o.listeners), "--payload", String(o.payload)]);
    try {
      const ready = await client.next((x) => x.ready === true, 120_000);
      await client.request({ cmd: "start", rate: o.rate, maxSeconds: o.warmup + o.seconds + 20 });
      await Bun.sleep(o.warmup * 1000);
      const c0 = await benchRoute(port, "GET", "/bench/counters");
      const m0 = await client.request({ cmd: "mark" });
      const end = sampler([server.pid, client.pid]);
      await Bun.sleep(o.seconds * 1000);
      const s = end(env.hz);
      const m1 = await client.request({ cmd: "report" });
      const c1 = await benchRoute(port, "GET", "/bench/counters");
      const stop = await client.request({ cmd: "stop" });
      const fin = await client.request({ cmd: "final", timeoutMs: 5000 }, 15_000);
      const secs = ((m1.t as number) - (m0.t as number)) / 1000;
      const pubs = (c1.publications as number) - (c0.publications as number);
      return {
        connectMs: ready.connectMs as number,
        offered: o.rate,
        sentPerSec: ((m1.published as number) - (m0.published as number)) / secs,
        acceptedPerSec: pubs / s.wall,
        deliveredPerSec: ((m1.deliveries as number) - (m0.deliveries as number)) / secs,
        serverCpuPct: s.pct[0]!,
        clientCpuPct: s.pct[1]!,
        otherCpuPct: s.other,
        serverUsPerPublication: pubs > 0 ? (s.cpu[0]! * 1e6) / pubs : NaN,
        latencyUs: m1.latencyUs as Latency,
        published: stop.published as number,
        lost: fin.lost as number,
        dup: fin.dup as number,
        errorFrames: fin.errorFrames as number,
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
  describe: "device connections publishing telemetry (pub frames), and HTTP POST /api/publish driven by autocannon",
  flags: [
    { name: "devices", def: "2000", quick: "100", help: "device connections, each publishing to telemetry.d<i>" },
    { name: "rate", def: "20000", quick: "1000", help: "publications/s of all devices together (round-robin)" },
    { name: "listeners", def: "1", help: "connections subscribed to telemetry.> (each receives every publication)" },
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
    ctx.progress.begin("ingest", httpConns > 0 ? 2 : 1);

    ctx.progress.step(`${fmt.int(devices)} devices publishing ${fmt.int(rate)}/s in all, ${listeners} listener(s) on telemetry.>`);
    const d = await devicesRun(ctx, ctx.env, { devices, listeners, rate, seconds, warmup, payload });
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
