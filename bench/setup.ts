/**
 * Setup benchmark: what it costs a server to take N subscribers, before any
 * publication. Per server in PEERS (tickgate, the bare `Bun.serve` loop, …),
 * pinned as in the fan-out comparison, the load client opens N connections
 * (64 at a time), each subscribes and waits for its ack; measured:
 *  - connect ms: first connect to the last ack, in the load client;
 *  - server CPU ms over that ramp (less moved by other programs than wall time);
 *  - KiB per connection: (server RSS with all subscribed − RSS before the first), ÷ N;
 *  - the server's peak RSS (VmHWM) once all are subscribed.
 * The same numbers, with a publishing window, come out of bench/fanout.ts's
 * JSON (`connectMs`, `serverHwmKiB`); this one isolates them, cheaply.
 * `bare-sub` is the bare loop with tickgate's subscribe round trip (a `sub`
 * frame read, an ack written), where `bare` subscribes on open: tickgate ÷
 * bare-sub is what tickgate's own code costs, bare-sub ÷ bare the protocol's.
 *
 *   bun bench/setup.ts [--subs 1000,5000] [--servers tickgate,bare,bare-sub] [--rounds 3]
 * @module
 */
import { argInt, argValue, rejectUnknown } from "./lib/args.ts";
import { Child } from "./lib/child.ts";
import { clockTicks, coreTimes, coreUsage, cpuTicks, fdLimitPrefix, memoryKiB, placement } from "./lib/proc.ts";
import { peer } from "./lib/peers.ts";
import { median } from "./lib/report.ts";
import { otherCpu } from "./lib/window.ts";

const argv = process.argv.slice(2);
rejectUnknown(argv, ["--subs", "--servers", "--rounds"]);
const subsList = argValue(argv, "--subs", "1000,5000").split(",").map(Number);
const servers = argValue(argv, "--servers", "tickgate,bare,bare-sub").split(",");
const rounds = argInt(argv, "--rounds", 3, 1, 20);
for (const s of servers) peer(s);
for (const n of subsList) if (!Number.isInteger(n) || n < 1 || n > 50_000) throw new Error(`--subs: ${n} is not an integer in [1, 50000]`);

const CLIENT = `${import.meta.dir}/load/client.ts`;
const place = placement();
const hz = clockTicks();

interface SetupRun {
  connectMs: number;
  serverCpuMs: number;
  /** The user-space part: where the servers' own code differs. */
  serverUserMs: number;
  kibPerConn: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  peakKiB: number;
  otherPct: number;
}

async function once(kind: string, subs: number): Promise<SetupRun> {
  const fd = fdLimitPrefix(subs + 256);
  const server = new Child(`${kind} server`, [...fd.prefix, ...place.server, ...peer(kind).command({ payload: 100 })]);
  try {
    const info = await server.next((o) => o.ready === true, 20_000);
    await Bun.sleep(300);
    const before = memoryKiB(server.pid);
    const s0 = cpuTicks(server.pid);
    const k0 = coreTimes();
    const w0 = performance.now();
    const client = new Child("load client", [
      ...fd.prefix, ...place.client, process.execPath, CLIENT,
      "--port", String(info.port), "--credit-port", String(info.creditPort), "--subs", String(subs), "--server", kind,
    ]);
    try {
      const ready = await client.next((o) => o.ready === true, 120_000);
      const s1 = cpuTicks(server.pid);
      const k1 = coreTimes();
      const wall = (performance.now() - w0) / 1000;
      const after = memoryKiB(server.pid);
      const serverCpuS = (s1.total - s0.total) / hz;
      return {
        connectMs: ready.connectMs as number,
        serverCpuMs: serverCpuS * 1000,
        serverUserMs: ((s1.user - s0.user) / hz) * 1000,
        kibPerConn: (after.rss - before.rss) / subs,
        rssBeforeKiB: before.rss,
        rssAfterKiB: after.rss,
        peakKiB: after.hwm,
        // The load client's CPU is not sampled: count it as the other core's work.
        otherPct: Math.max(0, otherCpu(coreUsage(k0, k1), (100 * serverCpuS) / wall) - 100),
      };
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

console.log(`setup: ${subsList.join(", ")} subscribers × [${servers.join(", ")}], ${rounds} round(s); ${place.note}`);
const rows: string[][] = [];
const med: Record<string, Record<number, SetupRun>> = {};
for (const subs of subsList) {
  const runs: Record<string, SetupRun[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const kind of r % 2 === 0 ? servers : [...servers].reverse()) {
      const x = await once(kind, subs);
      (runs[kind] ??= []).push(x);
      console.log(`  ${subs} ${kind.padEnd(9)} round ${r + 1}: connect ${x.connectMs} ms, server CPU ${x.serverCpuMs.toFixed(0)} ms (user ${x.serverUserMs.toFixed(0)}), ${x.kibPerConn.toFixed(2)} KiB/conn, RSS ${(x.rssBeforeKiB / 1024).toFixed(1)} → ${(x.rssAfterKiB / 1024).toFixed(1)} MiB, peak ${(x.peakKiB / 1024).toFixed(1)} MiB, other ~${x.otherPct.toFixed(0)}%`);
    }
  }
  for (const kind of servers) {
    const rr = runs[kind]!;
    const m = (f: (x: SetupRun) => number) => median(rr.map(f));
    const s: SetupRun = { connectMs: m((x) => x.connectMs), serverCpuMs: m((x) => x.serverCpuMs), serverUserMs: m((x) => x.serverUserMs), kibPerConn: m((x) => x.kibPerConn), rssBeforeKiB: m((x) => x.rssBeforeKiB), rssAfterKiB: m((x) => x.rssAfterKiB), peakKiB: m((x) => x.peakKiB), otherPct: m((x) => x.otherPct) };
    (med[kind] ??= {})[subs] = s;
    rows.push([String(subs), kind, String(Math.round(s.connectMs)), s.serverCpuMs.toFixed(0), s.serverUserMs.toFixed(0), s.kibPerConn.toFixed(2), (s.rssAfterKiB / 1024).toFixed(1), (s.peakKiB / 1024).toFixed(1), `${s.otherPct.toFixed(0)}%`]);
  }
}
const cols = ["subs", "server", "connect ms", "srv CPU ms", "user ms", "KiB/conn", "RSS MiB", "peak MiB", "other"];
const w = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
console.log("\nmedians:\n" + [cols, w.map((n) => "-".repeat(n)), ...rows].map((r) => r.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ")).join("\n"));
for (const [a, b] of [["tickgate", "bare"], ["tickgate", "bare-sub"], ["bare-sub", "bare"]] as const) {
  if (!med[a] || !med[b]) continue;
  for (const subs of subsList) {
    const x = med[a][subs]!;
    const y = med[b][subs]!;
    console.log(`${subs}: ${a} / ${b} — connect ${(x.connectMs / y.connectMs).toFixed(2)}×, server CPU ${(x.serverCpuMs / y.serverCpuMs).toFixed(2)}×, KiB/conn ${(x.kibPerConn / y.kibPerConn).toFixed(2)}×, peak RSS ${(x.peakKiB / y.peakKiB).toFixed(2)}×`);
  }
}
process.exit(0);
