/**
 * The fleet's connection log: one line when a device connects and one when
 * it disconnects, each with the device's kind and id and its address, and
 * at debug level every message on `devices.>` with its contents.
 *
 * Built on public API only: `server.on("open" | "close")` gives the
 * session, address, token subject and close code; the kind comes from the
 * device's `hello` meta, which tickgate announces in its presence
 * (`devices.<id>.presence`, with the session), read here by an in-process
 * SDK client with its own read-only token. Secrets never reach a line:
 * tokens are not in any of these fields.
 * @module
 */
import type { TickgateServer } from "tickgate";
import { TickgateClient } from "tickgate/client";

export type LogLevel = "info" | "debug";

interface Presence {
  state: "online" | "offline";
  session?: string;
  meta?: { kind?: string; version?: string };
  reason?: string;
  code?: number;
}

export interface FleetLog {
  client: TickgateClient;
  stop(): void;
}

const MAX_CONTENT = 500;

/**
 * Starts the log. `token` may subscribe to `devices.>` (nothing else is
 * needed); resolves once its subscription is in place, so devices that
 * connect afterwards are all seen.
 */
export async function startFleetLog(server: TickgateServer, token: string, level: LogLevel, print: (line: string) => void): Promise<FleetLog> {
  const ipOf = new Map<string, string>(); // session → address, while open
  const kindOf = new Map<string, string>(); // device id → kind, from its last hello meta
  const announced = new Set<string>(); // sessions whose connect line is printed

  const offOpen = server.on("open", (c) => {
    ipOf.set(c.session, c.remoteAddress);
    // A device's line waits for its presence (it brings the kind); everyone else, and a connection without a token yet, is logged now.
    if (c.client !== "device" || c.who === undefined) print(`🔗 connect ${c.remoteAddress} client=${c.client} who=${c.who ?? "(no token yet)"}`);
  });
  const offClose = server.on("close", (c) => {
    const ip = ipOf.get(c.session) ?? c.remoteAddress;
    ipOf.delete(c.session);
    const wasDevice = announced.delete(c.session);
    if (wasDevice || (c.client === "device" && c.who !== undefined)) {
      const id = c.who ?? "?";
      print(`🔌 device disconnected: kind=${kindOf.get(id) ?? "?"} id=${id} ip=${ip} code=${c.code}`);
    } else print(`🔌 disconnect ${ip} client=${c.client} who=${c.who ?? "-"} code=${c.code}`);
  });

  const client = new TickgateClient(server.wsUrl, { token, encoding: "json", clientType: "api", reconnect: { minDelayMs: 200, maxDelayMs: 2000 } });
  client.on("error", (e) => print(`⚠️ fleet log: ${e.code}: ${e.message}`));
  const sub = client.subscribe<unknown>("devices.>", (data, { topic }) => {
    const [, id, what] = topic.split(".");
    if (what === "presence") {
      const p = data as Presence;
      // Printed once per session, from the first presence that carries the hello's meta.
      if (p.state === "online" && p.session && p.meta?.kind && !announced.has(p.session)) {
        announced.add(p.session);
        kindOf.set(id!, p.meta.kind);
        print(`🔗 device connected: kind=${p.meta.kind} id=${id} version=${p.meta.version ?? "?"} ip=${ipOf.get(p.session) ?? "?"} session=${p.session}`);
      }
    }
    if (level === "debug") {
      const json = JSON.stringify(data);
      print(`🐛 ${topic} ${json.length > MAX_CONTENT ? `${json.slice(0, MAX_CONTENT)}…` : json}`);
    }
  });
  client.connect();
  await sub.ready(5000);
  return {
    client,
    stop() {
      offOpen();
      offClose();
      client.close();
    },
  };
}
