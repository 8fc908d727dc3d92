/**
 * The Node + uWebSockets.js rows of the bench's server table (spread into
 * PEERS in bench/lib/peers.ts): bare `app.publish` (the ceiling) and
 * tickgate on the uWS adapter. tickgate-node is TypeScript, so it is
 * bundled for Node once per bench process (packages stay external, so the
 * native uWS build loads from node_modules).
 * @module
 */
import { existsSync, mkdirSync } from "node:fs";
import type { Peer } from "../lib/peers.ts";
import { bareFrameTemplate, payloadTemplate, tickgateFrameLength } from "../lib/tick.ts";

const HERE = import.meta.dir;
const ROOT = `${HERE}/../..`;
const UWS = "@trufflesuite/uws-js-unofficial";
const OUT = `${ROOT}/node_modules/.cache/tickgate-node/bench`;
let built: string | undefined;

function unavailable(): string | null {
  if (!Bun.which("node")) return "node is not on PATH";
  return existsSync(`${ROOT}/node_modules/${UWS}/package.json`) ? null : `npm package '${UWS}' is not installed (npm install)`;
}

function node(name: string): string {
  const why = unavailable();
  if (why) throw new Error(`${name} is unavailable: ${why}`);
  return Bun.which("node")!;
}

function buildTickgateNode(): string {
  if (built) return built;
  mkdirSync(OUT, { recursive: true });
  const out = `${OUT}/tickgate-node.mjs`;
  const r = Bun.spawnSync([process.execPath, "build", `${HERE}/tickgate-node.ts`, "--target", "node", "--packages", "external", "--outfile", out], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tickgate-node: bundling for Node failed: ${r.stderr.toString().trim()}`);
  return (built = out);
}

/**
 * A diagnostic, not a peer: listed only with TICKGATE_BENCH_DIAGNOSTIC=1, so
 * the default (and --quick) runs do not grow by a server.
 */
const DIAGNOSTIC: Record<string, Peer> = {
  "uws-corked": {
    name: "uws-corked",
    describe: "bare uWebSockets.js on Node: each pump turn's publications sent to each socket inside ws.cork (diagnostic)",
    command: ({ payload }) => {
      const { frame, seqAt } = bareFrameTemplate(payloadTemplate(payload), tickgateFrameLength(payload));
      return [node("uws-corked"), `${HERE}/uws-bare.mjs`, "--frame", Buffer.from(frame).toString("base64"), "--seq-at", String(seqAt), "--mode", "corked"];
    },
    protocol: "raw",
    unavailable,
  },
};

/**
 * Listed only with TICKGATE_BENCH_NODE=1 for now: two more servers push
 * `bench --quick` past the 150 s its test allows on a busy 2-core machine.
 */
const NODE_PEERS: Record<string, Peer> = {
  "uws-bare": {
    name: "uws-bare",
    describe: "bare uWebSockets.js on Node: app.publish per publication (the ceiling for tickgate-node)",
    command: ({ payload }) => {
      const { frame, seqAt } = bareFrameTemplate(payloadTemplate(payload), tickgateFrameLength(payload));
      return [node("uws-bare"), `${HERE}/uws-bare.mjs`, "--frame", Buffer.from(frame).toString("base64"), "--seq-at", String(seqAt)];
    },
    protocol: "raw",
    unavailable,
  },
  "tickgate-node": {
    name: "tickgate-node",
    describe: "tickgate on Node 20 with the uWebSockets.js adapter (per-topic policies on)",
    command: ({ payload }) => [node("tickgate-node"), buildTickgateNode(), "--payload", String(payload)],
    protocol: "tickgate",
    unavailable,
  },
};

export const UWS_PEERS: Record<string, Peer> = {
  ...(process.env.TICKGATE_BENCH_NODE === "1" ? NODE_PEERS : {}),
  ...(process.env.TICKGATE_BENCH_DIAGNOSTIC === "1" ? DIAGNOSTIC : {}),
};
