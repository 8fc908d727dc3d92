/** Tickgate nodes in this process, each with its own NatsBus, for cluster tests. */
import { createServer } from "../../src/adapter/bun/index.ts";
import { NatsBus, type NatsBusOptions } from "../../src/cluster/nats.ts";
import type { TickgateServer } from "../../src/core/server.ts";

export interface TestNode extends AsyncDisposable {
  server: TickgateServer;
  bus: NatsBus;
  wsUrl: string;
}

let clusters = 0;
/** A cluster name no other test uses: each test gets its own stream. */
export function uniqueCluster(): string {
  return `t${process.pid}x${++clusters}x${Math.random().toString(36).slice(2, 7)}`;
}

export async function startNode(nats: NatsBusOptions, options: Record<string, unknown> = {}): Promise<TestNode> {
  const bus = await NatsBus.connect(nats);
  const server = createServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 200, ...options }, { bus });
  await server.listen();
  return {
    server,
    bus,
    wsUrl: `ws://127.0.0.1:${server.port}/ws`,
    async [Symbol.asyncDispose]() {
      await server.close();
      await bus.close();
    },
  };
}

/** Policies used by the cluster tests: `h.>` keeps history, `r.>` retains. */
export const POLICIES = {
  policies: [
    { match: "h.>", historySize: 100 },
    { match: "r.>", retain: true },
  ],
};
