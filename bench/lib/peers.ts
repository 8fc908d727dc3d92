/**
 * The servers a benchmark can run, in one table: tickgate and its peers.
 * Each is a process that prints `{"ready":true,"port":…,"creditPort":…}`
 * and then follows the control protocol of `bench/servers/driver.ts`, so the
 * workload and the load client are the same for all; only `protocol` tells
 * the load client how to subscribe and how to find the payload in a frame.
 * @module
 */

import { existsSync } from "node:fs";
import { bareFrameTemplate, payloadTemplate, tickgateFrameLength } from "./tick.ts";

/** How the load client subscribes and reads a tick (bench/load/protocols). */
export type LoadProtocol = "tickgate" | "raw" | "socketio" | "nats";

export interface Peer {
  name: string;
  /** One line for reports. */
  describe: string;
  /** argv to start it (the orchestrator prefixes core pinning and fd limits). */
  command(opts: { payload: number }): string[];
  protocol: LoadProtocol;
  /** Why it cannot run here (e.g. a Debian package is missing), or null. */
  unavailable(): string | null;
  /** Named on purpose only, never in a default list (a reference for one question, e.g. bench/setup.ts). */
  onRequest?: true;
}

const HERE = `${import.meta.dir}/..`;
const ROOT = `${HERE}/..`;
const bun = () => process.execPath;
const node = () => Bun.which("node");
const natsServer = () => Bun.which("nats-server", { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/usr/local/sbin:/usr/local/bin` });
const missingModule = (m: string) => (existsSync(`${ROOT}/node_modules/${m}/package.json`) ? null : `npm package '${m}' is not installed (npm install)`);

/** Node's path, or throws the reason it cannot run: a clear error beats a failed spawn. */
function nodeFor(name: string, module: string): string {
  const why = nodeMissing(module);
  if (why) throw new Error(`${name} is unavailable: ${why}`);
  return node()!;
}
function nodeMissing(module: string): string | null {
  return node() ? missingModule(module) : "node is not on PATH";
}

/**
 * nats-server must be the process the orchestrator measures (the fan-out
 * happens in it), yet the driver must speak the control protocol on that
 * process's stdin/stdout. So: write a config, start the driver in the
 * background on the original stdin, then `exec` nats-server in place of
 * this shell (same pid, pinned the same way). A watchdog kills nats-server
 * if the driver dies, and removes the temporary directory.
 * $1 bun, $2 bench/servers/nats.ts, $3 payload bytes, $4 nats-server.
 */
const NATS_SH = `set -e
d=$(mktemp -d "\${TMPDIR:-/tmp}/tickgate-nats.XXXXXX")
printf 'listen: "127.0.0.1:-1"\\nports_file_dir: "%s"\\nwebsocket {\\n  listen: "127.0.0.1:-1"\\n  no_tls: true\\n}\\n' "$d" > "$d/nats.conf"
exec 3<&0
"$1" "$2" --payload "$3" --dir "$d" --nats-pid $$ <&3 3<&- &
drv=$!
(while kill -0 $drv 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done; kill -0 $drv 2>/dev/null || kill $$ 2>/dev/null; rm -rf "$d") </dev/null >/dev/null 2>&1 3<&- &
exec "$4" -c "$d/nats.conf" </dev/null >"$d/nats.log" 2>&1 3<&-`;

export const PEERS: Record<string, Peer> = {
  tickgate: {
    name: "tickgate",
    describe: "tickgate on Bun (per-topic policies on)",
    command: ({ payload }) => [bun(), `${HERE}/servers/tickgate.ts`, "--payload", String(payload)],
    protocol: "tickgate",
    unavailable: () => null,
  },
  bare: {
    name: "bare",
    describe: "bare Bun.serve publish loop (the ceiling for our stack)",
    command: ({ payload }) => [bun(), `${HERE}/servers/bare-bun.ts`, "--payload", String(payload)],
    protocol: "raw",
    unavailable: () => null,
  },
  "bare-sub": {
    name: "bare-sub",
    describe: "the bare loop with tickgate's subscribe round trip: welcome on open, subscribed on a `sub` frame, which it acks",
    command: ({ payload }) => [bun(), `${HERE}/servers/bare-bun.ts`, "--payload", String(payload), "--sub-ack"],
    protocol: "tickgate",
    unavailable: () => null,
    onRequest: true,
  },
  "node-ws": {
    name: "node-ws",
    describe: "Node + ws: subscribers in a Set, ws.send(frame) to each (the ws README's broadcast)",
    // Same bytes as bare: the frame template is built here and handed over, so Node needs no TypeScript.
    command: ({ payload }) => {
      const { frame, seqAt } = bareFrameTemplate(payloadTemplate(payload), tickgateFrameLength(payload));
      return [nodeFor("node-ws", "ws"), `${HERE}/servers/node-ws.mjs`, "--frame", Buffer.from(frame).toString("base64"), "--seq-at", String(seqAt)];
    },
    protocol: "raw",
    unavailable: () => nodeMissing("ws"),
  },
  socketio: {
    name: "socketio",
    describe: "Node + Socket.IO 4: io.to(room).emit, websocket transport only",
    command: ({ payload }) => [nodeFor("socketio", "socket.io"), `${HERE}/servers/socketio.mjs`, "--frame-len", String(tickgateFrameLength(payload))],
    protocol: "socketio",
    unavailable: () => nodeMissing("socket.io"),
  },
  nats: {
    name: "nats",
    describe: "nats-server (Go) with its WebSocket listener, fed by one publisher over TCP",
    command: ({ payload }) => {
      const bin = natsServer();
      if (!bin) throw new Error(`nats is unavailable: ${PEERS.nats!.unavailable()}`);
      return ["sh", "-c", NATS_SH, "nats-bench", bun(), `${HERE}/servers/nats.ts`, String(payload), bin];
    },
    protocol: "nats",
    unavailable: () => (natsServer() ? null : "nats-server not found (Debian: apt-get install nats-server)"),
  },
  ...(await import("../servers/uws-peers.ts")).UWS_PEERS,
};

export function peer(name: string): Peer {
  const p = PEERS[name];
  if (!p) throw new Error(`unknown server '${name}'; known: ${Object.keys(PEERS).join(", ")}`);
  return p;
}

/** The peers a run compares when none are named: all but those run on request only. */
export function defaultPeers(): string[] {
  return Object.keys(PEERS).filter((k) => !PEERS[k]!.onRequest);
}
