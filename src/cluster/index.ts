/**
 * Cluster entry point: builds the NATS bus a node's options ask for. Runs
 * once at start-up.
 *
 * @example
 * const options = parseOptions({ cluster: { nats: "nats://127.0.0.1:4222" } });
 * const server = await serve(options, { bus: await connectBus(options) });
 * @module
 */
import type { Options } from "../core/options.ts";
import { NatsBus } from "./nats.ts";

export { NatsBus, type NatsBusOptions } from "./nats.ts";

/** Connects the bus for `options.cluster`; the stream keeps the deepest history any policy asks for. */
export async function connectBus(options: Options): Promise<NatsBus> {
  const c = options.cluster;
  if (!c) throw new Error("connectBus: options.cluster is not set");
  const keepPerTopic = Math.max(1, options.defaultPolicy.historySize, ...options.policies.map((p) => p.historySize ?? 0));
  return NatsBus.connect({ servers: c.nats, name: c.name, replicas: c.replicas, publishTimeoutMs: c.publishTimeoutMs, heartbeatMs: c.heartbeatMs, keepPerTopic });
}
