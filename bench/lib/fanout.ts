/**
 * The fan-out peer comparison: its configuration, one measured run of a
 * peer (server and load client in separate processes pinned to separate
 * cores), rounds over every available peer in PEERS, and the report
 * `bun bench/fanout.ts` prints. The `fanout` scenario builds on
 * `comparePeers`; bench/fanout.ts is the command-line entry.
 * @module
 */
import { writeFileSync } from "node:fs";
import { argFlag, argInt, argNumber, argValue, rejectUnknown } from "./args.ts";
import { Child } from "./child.ts";
import { clockTicks, fdLimitPrefix, machine, placement } from "./proc.ts";
import { rangeLines, ratioLines, ratios, summarize, table, type RunResult, type ServerKind, type Summary } from "./report.ts";
import { defaultPeers, peer, PEERS } from "./peers.ts";
import { measureWindow, quietest } from "./window.ts";
import { tickgateFrameLength } from "./tick.ts";

const FLAGS = ["--subs", "--seconds", "--rate", "--payload", "--rounds", "--json", "--quick", "--warmup", "--batch", "--window", "--sample", "--servers", "--retries"];

export interface FanoutConfig {
  subs: number;
  seconds: number;
  warmup: number;
  /** Publications per second; 0 = max. */
  rate: number;
  payload: number;
  rounds: number;
  batch: number;
  window: number;
  sample: number;
  servers: ServerKind[];
  /** Re-runs of a measurement disturbed by other programs. */
  retries: number;
  json: string | null;
  quick: boolean;
}

export function parseConfig(argv: string[]): FanoutConfig {
  rejectUnknown(argv, FLAGS);
  const quick = argFlag(argv, "--quick");
  // Quick: small and at a fixed moderate rate, so a test can demand zero loss.
  const rateArg = argValue(argv, "--rate", quick ? "200" : "max");
  // Every peer in PEERS by default (but those run on request only): peers that cannot run here are skipped and said so.
  const servers = argValue(argv, "--servers", defaultPeers().join(",")).split(",");
  for (const s of servers) peer(s);
  return {
    subs: argInt(argv, "--subs", quick ? 50 : 1000, 1, 50_000),
    seconds: argNumber(argv, "--seconds", quick ? 1 : 5, 0.2, 600),
    warmup: argNumber(argv, "--warmup", quick ? 0.5 : 1, 0, 60),
    rate: rateArg === "max" ? 0 : parseRate(rateArg),
    payload: argInt(argv, "--payload", 100, 62, 60_000),
    rounds: argInt(argv, "--rounds", quick ? 1 : 2, 1, 20),
    batch: argInt(argv, "--batch", 8, 1, 10_000),
    window: argInt(argv, "--window", 128, 1, 1_000_000),
    sample: argInt(argv, "--sample", 16, 1, 1_000_000),
    servers: servers as ServerKind[],
    retries: argInt(argv, "--retries", quick ? 0 : 2, 0, 10),
    json: argValue(argv, "--json", "") || null,
    quick,
  };
}

function parseRate(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10_000_000) throw new Error(`--rate must be 'max' or an integer in [1, 10000000] publications/s, got '${raw}'`);
  return n;
}

const HERE = import.meta.dir;
const CLIENT = `${HERE}/../load/client.ts`;

export interface PeerEnv {
  place: ReturnType<typeof placement>;
  /** Prefix raising the open-files limit for the children, if needed. */
  fd: string[];
  hz: number;
}

/** The load client learns the peer's protocol (how to subscribe, where the tick sits) from its name in PEERS. */
export function protocolArgs(kind: ServerKind): string[] {
  return ["--server", kind];
}

/** One measured run of a peer with the fan-out load client (bench/load/client.ts). */
export async function runPeer(kind: ServerKind, round: number, cfg: FanoutConfig, env: PeerEnv): Promise<RunResult> {
  const bun = process.execPath;
  const server = new Child(`${kind} server`, [...env.fd, ...env.place.server, ...peer(kind).command({ payload: cfg.payload })]);
  try {
    const info = await server.next((o) => o.ready === true, 20_000);
    const client = new Child("load client", [
      ...env.fd, ...env.place.client, bun, CLIENT,
      "--port", String(info.port), "--credit-port", String(info.creditPort), "--subs", String(cfg.subs),
      ...protocolArgs(kind), "--sample", String(cfg.sample), "--credit-step", String(Math.max(1, cfg.window >> 2)),
    ]);
    try {
      const ready = await client.next((o) => o.ready === true, 90_000);
      return await measureWindow(server, client, ready, {
        label: kind, round, fanout: cfg.subs, warmup: cfg.warmup, seconds: cfg.seconds,
        rate: cfg.rate, batch: cfg.batch, window: cfg.window, hz: env.hz,
      });
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

/** Peers that cannot run on this machine, with the reason (e.g. a package is missing). */
export function unavailablePeers(servers: readonly ServerKind[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of servers) {
    let why: string | null;
    try {
      why = peer(s).unavailable();
    } catch (e) {
      why = (e as Error).message;
    }
    if (why) out[s] = why;
  }
  return out;
}

export interface PeerComparison {
  runs: RunResult[];
  summary: Partial<Record<ServerKind, Summary>>;
  /** Peers skipped, with the reason. */
  unavailable: Record<string, string>;
}

/**
 * Rounds × available peers. The order alternates each round so no server
 * always runs on a warmer machine; a measurement disturbed by other
 * programs is re-run (`retries`) and the quietest attempt kept.
 */
export async function comparePeers(cfg: FanoutConfig, env: PeerEnv, log: (line: string) => void, step: (label: string) => void = () => {}): Promise<PeerComparison> {
  const unavailable = unavailablePeers(cfg.servers);
  const servers = cfg.servers.filter((s) => !(s in unavailable));
  const runs: RunResult[] = [];
  for (let round = 0; round < cfg.rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const kind of order) {
      step(`${kind}: ${cfg.subs.toLocaleString("en-US")} subscribers, rate ${cfg.rate === 0 ? "max" : `${cfg.rate}/s`}, round ${round + 1}/${cfg.rounds}`);
      const r = await quietest(cfg.retries, () => runPeer(kind, round, cfg, env), (r) =>
        log(`  round ${round + 1} ${kind.padEnd(8)} ${Math.round(r.deliveriesPerSec).toLocaleString("en-US").padStart(10)} deliveries/s, p99 ${r.latencyUs.p99} µs, server ${r.serverCpuUsPerDelivery.toFixed(3)} µs/delivery, client CPU ${r.clientCpuPct.toFixed(0)}%, other programs ${r.otherCpuPct.toFixed(0)}%`),
      );
      runs.push(r);
    }
  }
  const summary: Partial<Record<ServerKind, Summary>> = {};
  for (const kind of servers) summary[kind] = summarize(runs.filter((r) => r.server === kind));
  return { runs, summary, unavailable };
}

export interface FanoutReport {
  command: string;
  config: FanoutConfig;
  machine: ReturnType<typeof machine>;
  placement: string;
  fdLimit: string;
  frameBytes: number;
  runs: RunResult[];
  summary: Partial<Record<ServerKind, Summary>>;
  ratios: ReturnType<typeof ratios> | null;
  unavailable: Record<string, string>;
}

export async function fanout(argv: string[]): Promise<FanoutReport> {
  const cfg = parseConfig(argv);
  const place = placement();
  const fd = fdLimitPrefix(cfg.subs + 256);
  const env: PeerEnv = { place, fd: fd.prefix, hz: clockTicks() };
  const rateText = cfg.rate === 0 ? "max (flow-controlled)" : `${cfg.rate}/s (${(cfg.rate * cfg.subs).toLocaleString("en-US")} deliveries/s offered)`;
  console.log(`fan-out: ${cfg.subs} subscribers, 1 topic, ${cfg.payload}-byte payload (${tickgateFrameLength(cfg.payload)}-byte frame), rate ${rateText}`);
  console.log(`${cfg.rounds} round(s) × [${cfg.servers.join(", ")}], ${cfg.warmup} s warm-up + ${cfg.seconds} s measured; batch ${cfg.batch}, window ${cfg.window}, up to ${cfg.retries} re-run(s) of a noisy measurement`);
  console.log(`${place.note}; ${fd.note}`);

  const { runs, summary, unavailable } = await comparePeers(cfg, env, (l) => console.log(l));
  for (const [k, why] of Object.entries(unavailable)) console.log(`${k}: unavailable (${why}); skipped`);
  const rt = summary.tickgate && summary.bare ? ratios(summary.tickgate, summary.bare) : null;
  console.log("\n" + table(runs, summary));
  console.log("\n" + rangeLines(summary));
  if (rt) console.log("\n" + ratioLines(rt));
  if (runs.some((r) => r.clientSaturated)) console.log("client saturated: the load client used ≥ 90% of its core, so deliveries/s is the client's ceiling; compare server CPU per delivery.");
  const report: FanoutReport = {
    command: `bun bench/fanout.ts ${argv.join(" ")}`.trim(),
    config: cfg,
    machine: machine(),
    placement: place.note,
    fdLimit: fd.note,
    frameBytes: tickgateFrameLength(cfg.payload),
    runs,
    summary,
    ratios: rt,
    unavailable,
  };
  if (cfg.json) {
    writeFileSync(cfg.json, JSON.stringify(report, null, 2) + "\n");
    console.log(`wrote ${cfg.json}`);
  }
  return report;
}
