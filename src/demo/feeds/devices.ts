/**
 * Demo device fleet: simulated sensors publishing telemetry on
 * `devices.<id>.telemetry` and presence on `devices.<id>.status`, through
 * the same `server.publish` any producer uses. Now and then a device drops
 * off (link lost, power cycle, flat battery) and comes back a few seconds
 * later, so dashboards and retained status have something to show.
 * @module
 */
import type { TickgateServer } from "../../core/server.ts";

export interface Telemetry {
  /** °C */
  temperature: number;
  /** Relative humidity, % */
  humidity: number;
  /** % */
  battery: number;
  /** Signal strength, dBm */
  rssi: number;
  ts: number;
}

export type DeviceState = "online" | "offline";

export interface DeviceStatus {
  state: DeviceState;
  reason: string;
  ts: number;
}

export interface DeviceFleetOptions {
  /** Simulated devices (default 12). */
  count?: number;
  /** Mean time between one device's readings (default 1000 ms); each wait is ±25%. */
  intervalMs?: number;
  /** Chance per reading that an online device drops off (default 0.01: about every 100 s). */
  offlineChance?: number;
  /** How long a dropped device stays away, [min, max] ms (default 3–8 s). */
  offlineMs?: readonly [number, number];
  /** Random source in [0, 1); tests pass a seeded one. */
  random?: () => number;
}

export const telemetryTopic = (id: string) => `devices.${id}.telemetry`;
export const statusTopic = (id: string) => `devices.${id}.status`;

/** `sim-01`, `sim-02`, ...: the prefix keeps simulated ids apart from real devices' ids. */
export function deviceIds(count: number): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `sim-${String(i + 1).padStart(width, "0")}`);
}

const DROP_REASONS = ["connection lost", "power cycle", "firmware update"];
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Device {
  id: string;
  state: DeviceState;
  temperature: number;
  humidity: number;
  battery: number;
  rssi: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Starts the fleet; returns a stop function that clears every timer. */
export function startDeviceFleet(server: TickgateServer, opts: DeviceFleetOptions = {}): () => void {
  const count = opts.count ?? 12;
  const intervalMs = opts.intervalMs ?? 1000;
  const offlineChance = opts.offlineChance ?? 0.01;
  const [awayMin, awayMax] = opts.offlineMs ?? [3000, 8000];
  const rnd = opts.random ?? Math.random;
  let stopped = false;

  // A failed publish (the server closing, a policy refusing) must not kill
  // the process from a timer; the demo just skips that reading.
  const publish = (topic: string, data: unknown) => {
    try {
      const r = server.publish(topic, data);
      if (typeof r !== "number") r.catch(() => {});
    } catch (e) {
      server.log.debug({ event: "demo_publish_failed", topic, err: String(e) }, "demo publish failed");
    }
  };
  const between = (lo: number, hi: number) => lo + rnd() * (hi - lo);
  const later = (d: Device, ms: number, fn: () => void) => {
    if (stopped) return;
    d.timer = setTimeout(fn, ms);
  };
  const setState = (d: Device, state: DeviceState, reason: string) => {
    d.state = state;
    publish(statusTopic(d.id), { state, reason, ts: Date.now() } satisfies DeviceStatus);
  };

  const reading = (d: Device) => {
    d.temperature = Math.min(40, Math.max(-10, d.temperature + (rnd() - 0.5) * 0.4));
    d.humidity = Math.min(95, Math.max(10, d.humidity + (rnd() - 0.5) * 1.0));
    d.battery = Math.max(0, d.battery - between(0.01, 0.05));
    d.rssi = Math.min(-30, Math.max(-100, d.rssi + (rnd() - 0.5) * 4));
    const t: Telemetry = { temperature: round(d.temperature, 1), humidity: round(d.humidity, 1), battery: round(d.battery, 1), rssi: Math.round(d.rssi), ts: Date.now() };
    publish(telemetryTopic(d.id), t);
    if (d.battery < 5) return goOffline(d, "battery depleted");
    if (rnd() < offlineChance) return goOffline(d, DROP_REASONS[Math.floor(rnd() * DROP_REASONS.length)]!);
    later(d, intervalMs * between(0.75, 1.25), () => reading(d));
  };

  const goOffline = (d: Device, reason: string) => {
    setState(d, "offline", reason);
    later(d, between(awayMin, awayMax), () => {
      const recharged = d.battery < 5;
      if (recharged) d.battery = 100;
      setState(d, "online", recharged ? "recharged" : "reconnected");
      reading(d);
    });
  };

  const devices: Device[] = deviceIds(count).map((id) => ({
    id,
    state: "offline",
    temperature: between(18, 26),
    humidity: between(30, 60),
    battery: between(40, 100),
    rssi: between(-85, -45),
    timer: undefined,
  }));
  for (const d of devices) {
    setState(d, "online", "boot");
    // Spread the first readings over one interval, so the fleet does not tick in lockstep.
    later(d, rnd() * intervalMs, () => reading(d));
  }
  return () => {
    stopped = true;
    for (const d of devices) clearTimeout(d.timer);
  };
}
