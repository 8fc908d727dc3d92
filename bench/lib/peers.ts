/**
 * The servers a benchmark can run, in one table: tickgate and its peers.
 * Each is a process that prints `{"ready":true,"port":…,"creditPort":…}`
 * and then follows the control protocol of `bench/servers/driver.ts`, so the
 * workload and the load client are the same for all; only `protocol` tells
 * the load client how to subscribe and how to find the payload in a frame.
 * @module
 */

export type LoadProtocol = "tickgate" | "raw";

export interface Peer {
  name: string;
  /** One line for reports. */
  describe: string;
  /** argv to start it (the orchestrator prefixes core pinning and fd limits). */
  command(opts: { payload: number }): string[];
  protocol: LoadProtocol;
  /** Why it cannot run here (e.g. a Debian package is missing), or null. */
  unavailable(): string | null;
}

const HERE = `${import.meta.dir}/..`;
const bun = () => process.execPath;

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
};

export function peer(name: string): Peer {
  const p = PEERS[name];
  if (!p) throw new Error(`unknown server '${name}'; known: ${Object.keys(PEERS).join(", ")}`);
  return p;
}
