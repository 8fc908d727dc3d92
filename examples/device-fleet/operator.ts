/**
 * The operator's console on the SDK: watches presence, logs, alerts (the
 * devices' wills) and telemetry of every device (`devices.>`) with an
 * operator token, commands devices with `client.command()`, and asks the
 * server how many devices are online with `client.serverStats()`.
 *
 *   bun examples/device-fleet/operator.ts ws://127.0.0.1:3000/ws <operator token>
 * @module
 */
import { TickgateClient, type ServerStats } from "tickgate/client";

type Row = Record<string, any>;

export interface Watch {
  client: TickgateClient;
  /**
   * Sends a command to a device and waits for its answer, printing it:
   * the device's result, its refusal code, or `COMMAND_TIMEOUT` when nothing
   * acknowledged it within `ttlMs` (queued meanwhile if the device is offline).
   */
  command(device: string, name: string, data?: unknown, ttlMs?: number): Promise<unknown>;
  /** The server's short summary (an operator is no admin): connections, sessions by type, devices online. */
  fleet(): Promise<ServerStats>;
  stop(): void;
}

export async function watchFleet(url: string, token: string, opts: { print?: (line: string) => void; telemetry?: boolean } = {}): Promise<Watch> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const client = new TickgateClient(url, { token, encoding: "json", clientType: "api" });
  client.on("error", (e) => print(`operator error ${e.code}: ${e.message}`));
  client.connect();
  await client.ready();
  const sub = client.subscribe<Row>("devices.>", (d, { topic }) => {
    const [, id, kind] = topic.split(".");
    if (kind === "presence") {
      const what = d.meta ? ` (${d.meta.kind} ${d.meta.version})` : "";
      print(`presence ${id}: ${d.state}${what}${d.reason ? ` (${d.reason}, code ${d.code})` : ""}`);
    } else if (kind === "log") print(`log ${id} [${d.level}] ${d.message}`);
    else if (kind === "alerts") print(`alert ${id}: ${d.state}${d.reason ? ` (${d.reason})` : ""}`);
    else if (kind === "telemetry" && opts.telemetry !== false) print(`telemetry ${id}: ${JSON.stringify(d)}`);
  });
  await sub.ready();
  return {
    client,
    async command(device, name, data = {}, ttlMs = 30_000) {
      const t0 = performance.now();
      try {
        const ack = await client.command(device, name, data, { ttlMs });
        print(`${device} ${name} → ack ${JSON.stringify(ack)} in ${Math.round(performance.now() - t0)} ms`);
        return ack;
      } catch (e) {
        const err = e as { code?: string; message?: string };
        print(`${device} ${name} → ${err.code ?? "error"}${err.message ? `: ${err.message}` : ""}`);
        throw e;
      }
    },
    fleet: () => client.serverStats(),
    stop: () => client.close(),
  };
}

if (import.meta.main) {
  const [url = "ws://127.0.0.1:3000/ws", token = process.env.OPERATOR_TOKEN] = process.argv.slice(2);
  if (!token) {
    console.error("usage: bun examples/device-fleet/operator.ts <ws url> <operator token>  (or OPERATOR_TOKEN)");
    process.exit(2);
  }
  const w = await watchFleet(url, token);
  const f = await w.fleet();
  console.log(`fleet: ${f.devicesOnline ?? "?"} device(s) online, ${f.connections} connection(s)`);
  const stop = () => {
    w.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
