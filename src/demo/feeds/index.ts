/**
 * The demo the serve command runs: market ticks, a simulated device fleet
 * and server stats, with the policies a real deployment would use for each.
 * @module
 */
import type { TickgateServer } from "../../core/server.ts";
import { startDeviceFleet, type DeviceFleetOptions } from "./devices.ts";
import { startMarketFeed, startSystemStatsFeed, type MarketFeedOptions } from "./market.ts";

/**
 * Ticks and telemetry conflate per topic/key for slow readers (only the
 * latest value matters) and retain the last value; device status is
 * retained so a new dashboard sees who is online at once. All of it is
 * published by the server only.
 */
export const DEMO_POLICIES = [
  // History lets a reconnecting client recover the ticks it missed (about a minute at the default rate).
  { match: "prices.>", action: "conflate", retain: true, publish: "server", limitBytes: 256 * 1024, historySize: 1000, historyTtlMs: 120_000 },
  { match: "devices.*.telemetry", action: "conflate", retain: true, publish: "server", limitBytes: 256 * 1024 },
  { match: "devices.*.status", action: "conflate", retain: true, publish: "server" },
  { match: "system.>", retain: true, publish: "server" },
] as const;

export interface DemoOptions {
  market?: MarketFeedOptions;
  /** `false`: no device fleet. */
  devices?: DeviceFleetOptions | false;
  /** How often `system.stats` is published (default 2000 ms). */
  statsIntervalMs?: number;
}

/** Starts every demo feed; returns one function that stops them all. */
export function startDemo(server: TickgateServer, opts: DemoOptions = {}): () => void {
  const stops = [startMarketFeed(server, opts.market), startSystemStatsFeed(server, opts.statsIntervalMs)];
  if (opts.devices !== false) stops.push(startDeviceFleet(server, opts.devices));
  return () => stops.forEach((s) => s());
}
