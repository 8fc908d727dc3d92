/**
 * A SmartSignal client on the tickgate SDK: discovers the topics and methods
 * from the welcome frame, subscribes to every stream, asks for data and
 * server stats, and prints what arrives. Reconnects (and catches up) on its own.
 *
 *   bun examples/smartsignal/client.ts [ws://127.0.0.1:8765/ws]
 * @module
 */
import { TickgateClient, TickgateClientError } from "tickgate/client";

export interface ClientRun {
  client: TickgateClient;
  stop(): void;
}

type Row = Record<string, any>;

/** One line per update, the interesting numbers only. */
function summary(topic: string, d: Row): string {
  switch (topic) {
    case "simulation":
      return `step ${d.step}: ${d.network_stats?.towers_online}/${d.network_stats?.towers_total} towers online, ${d.network_stats?.users} users`;
    case "tower_data":
      return `${d.towers?.length} towers, busiest ${[...(d.towers ?? [])].sort((a: Row, b: Row) => b.load - a.load)[0]?.id}`;
    case "analytics":
      return `anomaly score ${d.anomaly_score}, degraded: ${(d.degraded_towers ?? []).join(",") || "none"}`;
    case "kpi":
      return `drop ${d.call_drop_rate}%, setup ${d.call_setup_success}%, ${d.throughput_mbps} Mbit/s, ${d.latency_ms} ms`;
    case "alerts":
      return `${d.severity?.toUpperCase()} ${d.message}`;
    default:
      return JSON.stringify(d).slice(0, 120);
  }
}

export async function runClient(url: string, opts: { print?: (line: string) => void; statsEveryMs?: number } = {}): Promise<ClientRun> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const client = new TickgateClient(url, { encoding: "json", clientType: "api" });
  client.on("state", (s) => print(`connection: ${s}`));
  client.on("gap", (g) => print(`missed updates on ${g.subscription} (${g.type}); the next update is a full snapshot`));
  client.on("error", (e) => print(`error ${e.code}: ${e.message}`));
  client.connect();
  await client.ready();

  const welcome = client.welcome!;
  print(`welcome: session ${welcome.session}, topics [${welcome.topics?.join(", ")}], methods [${welcome.methods.join(", ")}]`);

  for (const topic of welcome.topics ?? []) {
    client.subscribe<Row>(topic, (d) => print(`${topic}: ${summary(topic, d)} (sent ${d.broadcast_time}, ${d.active_connections} connected)`));
  }

  const tower = await client.request<Row>("request_data", { data_type: "tower_data", params: { tower_id: "T001" } });
  print(`request_data tower_data T001 → ${JSON.stringify(tower.data.towers[0])}`);
  try {
    await client.request("request_data", { data_type: "weather" });
  } catch (e) {
    if (e instanceof TickgateClientError) print(`request_data weather → ${e.code}: ${e.message} (available: ${(e.details?.available as string[] | undefined)?.join(", ")})`);
  }

  const showStats = async () => {
    const s = await client.request<Row>("get_server_stats");
    print(`server stats: ${JSON.stringify(s.stats)} cpu ${s.performance.cpu_percent}% mem ${s.performance.memory_percent}%`);
  };
  await showStats();
  const timer = setInterval(() => showStats().catch(() => {}), opts.statsEveryMs ?? 30_000);
  return {
    client,
    stop() {
      clearInterval(timer);
      client.close();
    },
  };
}

if (import.meta.main) {
  const run = await runClient(process.argv[2] ?? "ws://127.0.0.1:8765/ws");
  const stop = () => {
    run.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
