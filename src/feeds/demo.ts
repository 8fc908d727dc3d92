/**
 * The demo the start command runs: market ticks and server stats, with the
 * policies a real price feed would use.
 * @module
 */
import type { TickgateServer } from "../core/server.ts";
import { startMarketFeed, startSystemStatsFeed } from "./market.ts";

/** Ticks conflate per symbol for slow readers and retain the last value. */
export const DEMO_POLICIES = [
  { match: "prices.>", action: "conflate", retain: true, publish: "server", limitBytes: 256 * 1024 },
  { match: "system.>", retain: true, publish: "server" },
] as const;

export function startDemo(server: TickgateServer): () => void {
  const stops = [startMarketFeed(server), startSystemStatsFeed(server)];
  return () => stops.forEach((s) => s());
}
