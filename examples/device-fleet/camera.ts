/**
 * A simulated ESP32-CAM on the tickgate client SDK's device role, next to
 * the Pico in `device.ts` that speaks raw frames. The SDK does what the
 * Pico's firmware does by hand:
 *
 *   connect   the token as `?token=` (what a browser-style WebSocket can send); its `sub` is the device id
 *   hello     `meta` {kind, version} and a last `will`, on every connect, before anything else
 *   commands  `onCommand(name, handler)`: each command id runs once, redeliveries are acknowledged
 *             with the remembered result, `CommandRefused` answers `command_nack`
 *   logs      `client.log(level, message)` → devices.<id>.log
 *   telemetry `client.publish("devices.<id>.telemetry", …, { ack: false })`
 *   liveness  the SDK's heartbeat; reconnects with backoff by itself
 *
 * Its will (`devices.<id>.alerts` ← `{state: "lost"}`) is published by the
 * server if the connection drops without a close: an operator hears of a
 * camera that lost power or network, not of one that shut down.
 * @module
 */
import { CommandRefused, TickgateClient, type TickgateClientError } from "tickgate/client";

export interface CameraOptions {
  url: string;
  /** With auth on, the id is the token's `sub`; this names the will's topic and the printed lines. */
  id: string;
  token: string;
  version?: string;
  logEveryMs?: number;
  telemetryEveryMs?: number;
  /** The SDK's heartbeat (app-level ping) interval. */
  pingEveryMs?: number;
  /** How long a command takes before it is acknowledged. */
  commandMs?: number;
  print?: (line: string) => void;
}

export class Esp32Cam {
  readonly client: TickgateClient;
  /** How many times each command name actually ran (redeliveries are not counted). */
  readonly executed: Record<string, number> = {};
  /** What the SDK reported on its `error` event. */
  readonly errors: TickgateClientError[] = [];
  readonly o: Required<CameraOptions>;
  #timers: ReturnType<typeof setInterval>[] = [];
  #booted = false;
  #flash = false;

  constructor(opts: CameraOptions) {
    this.o = { version: "1.0.0", logEveryMs: 10_000, telemetryEveryMs: 5_000, pingEveryMs: 30_000, commandMs: 20, print: (l) => console.log(l), ...opts };
    const o = this.o;
    this.client = new TickgateClient(o.url, {
      token: o.token,
      encoding: "json",
      // The id comes from the token; "device" says what this client is (and keeps it off the SSE fallback).
      clientType: "device",
      meta: { kind: "esp32cam", version: o.version },
      will: { topic: `devices.${o.id}.alerts`, data: { state: "lost", reason: "connection dropped" } },
      heartbeatMs: o.pingEveryMs,
      reconnect: { minDelayMs: 250, maxDelayMs: 5000 },
    });
    this.client.on("error", (e) => {
      this.errors.push(e);
      o.print(`${this.name}: error ${e.code}: ${e.message}`);
    });
    this.client.on("state", (s) => {
      if (s === "connected") this.#online();
      else this.#offline();
    });
    this.client.onCommand<{ resolution?: string }>("capture", (d, { cid }) => {
      this.#ran("capture", cid);
      return this.#after({ ok: true, resolution: d?.resolution ?? "VGA", bytes: 18_000 + Math.floor(Math.random() * 8_000) });
    });
    this.client.onCommand<{ on?: boolean }>("set_flash", (d, { cid }) => {
      this.#ran("set_flash", cid);
      this.#flash = Boolean(d?.on);
      return this.#after({ ok: true, flash: this.#flash });
    });
    this.client.onCommand("reboot", (_d, { cid }) => {
      this.#ran("reboot", cid);
      return this.#after({ ok: true, rebooting_in_s: 3 });
    });
    // Any other name: refused for good, with a code the operator's command() rejects with.
    this.client.onCommand("*", (_d, { name }) => {
      throw new CommandRefused("UNKNOWN_COMMAND", `an esp32cam does not know '${name.slice(0, 64)}'`);
    });
  }

  get name(): string {
    return `esp32cam:${this.o.id}`;
  }

  /** Connects; resolves once the server acknowledged the hello. */
  async start(timeoutMs = 5000): Promise<void> {
    this.client.connect();
    await this.client.ready(timeoutMs);
  }

  /** Closes normally: presence goes offline with reason "normal", and the will is not published. */
  stop(): void {
    this.#offline();
    this.client.close();
  }

  #ran(name: string, cid: string): void {
    this.executed[name] = (this.executed[name] ?? 0) + 1;
    this.o.print(`${this.name}: command ${name} (cid ${cid})`);
  }

  #after<T>(result: T): Promise<T> {
    return new Promise((r) => setTimeout(() => r(result), this.o.commandMs));
  }

  #online(): void {
    const o = this.o;
    this.o.print(`${this.name}: connected (hello acknowledged, session ${this.client.welcome?.session ?? "?"})`);
    if (!this.#booted) {
      this.#booted = true;
      this.client.log("info", `esp32cam firmware ${o.version} booted`);
    }
    this.#offline();
    this.#timers.push(
      setInterval(() => this.client.log("info", `esp32cam ${o.id} alive, uptime ${Math.round(performance.now() / 1000)} s`), o.logEveryMs),
      setInterval(() => {
        const reading = { fps: 10 + Math.floor(Math.random() * 5), rssi: -60 - Math.floor(Math.random() * 20), flash: this.#flash, ts: Date.now() };
        this.client.publish(`devices.${o.id}.telemetry`, reading, { key: o.id, ack: false });
      }, o.telemetryEveryMs),
    );
  }

  #offline(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }
}
