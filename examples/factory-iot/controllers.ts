/**
 * Simulated relay controllers: tickgate *devices* on the client SDK's
 * device role. Each one connects with its device id, takes `set_relay`
 * commands with `onCommand` (the SDK runs each command id once and
 * acknowledges redeliveries with the same result), refuses what it cannot
 * do with `CommandRefused` (a `command_nack` the sender gets as an error
 * code), reports every output's state and each command's fate to the
 * server (`report_relay`), and writes log lines with `client.log()`.
 * @module
 */
import { CommandRefused, TickgateClient, type TickgateClientError } from "tickgate/client";
import { CODES, METHODS, SET_RELAY, type LastCommand, type RelayAck, type RelayReport, type SetRelay } from "./types.ts";

export interface RelayControllerOptions {
  /** How long switching takes, so a dashboard can see "pending" (default 150 ms). */
  applyDelayMs?: number;
  /** Channels locked out for maintenance at start: commands for them are refused with `LOCKED_OUT`. */
  lockedOut?: number[];
  /** Its device token (subject = its id); without one it only gets in when the server runs open. */
  token?: string;
}

export class RelayController {
  readonly client: TickgateClient;
  readonly outputs: boolean[];
  /** Channels locked out for maintenance (lockout/tagout). */
  readonly lockedOut: Set<number>;
  /** Commands acted on (a redelivered command is not counted twice). */
  applied = 0;
  /** Commands refused (`command_nack`). */
  refused = 0;
  /** What the SDK reported on its `error` event (none is expected). */
  readonly errors: TickgateClientError[] = [];
  readonly #applyDelayMs: number;

  constructor(
    readonly id: string,
    wsUrl: string,
    channels: number,
    opts: RelayControllerOptions = {},
  ) {
    this.outputs = Array.from({ length: channels }, () => false);
    this.lockedOut = new Set(opts.lockedOut ?? []);
    this.#applyDelayMs = opts.applyDelayMs ?? 150;
    this.client = new TickgateClient(wsUrl, {
      encoding: "json",
      deviceId: id, // a device: hello {client: "device", device: id} on every connect
      ...(opts.token ? { token: opts.token } : {}),
      meta: { kind: "relay-controller", channels },
      heartbeatMs: 5000,
      reconnect: { minDelayMs: 200, maxDelayMs: 2000 },
    });
    this.client.on("error", (e) => this.errors.push(e));
    this.client.onCommand<SetRelay, RelayAck>(SET_RELAY, (d) => this.#setRelay(d));
    // Every connect (a restart of either side): tell the server how the outputs are.
    this.client.on("state", (s) => {
      if (s === "connected") for (let ch = 1; ch <= this.outputs.length; ch++) this.#report(ch);
    });
  }

  /** Connected, and the server has acknowledged the `hello` that names the device. */
  get online(): boolean {
    return this.client.state === "connected";
  }

  start(): this {
    this.client.connect();
    return this;
  }

  /**
   * Simulates a power cut: the controller goes away (presence `offline`) and
   * stays away until `plug()`. Commands sent meanwhile wait in tickgate's
   * queue until they expire.
   */
  unplug(): void {
    this.client.close();
  }

  plug(): void {
    this.client.connect();
  }

  /** Leaves for good. */
  stop(): void {
    this.client.close();
  }

  async #setRelay(d: SetRelay): Promise<RelayAck> {
    const channel = d?.channel;
    if (typeof channel !== "number" || !Number.isInteger(channel) || channel < 1 || channel > this.outputs.length) {
      this.refused++;
      throw new CommandRefused(CODES.UNKNOWN_CHANNEL, `${this.id} has channels 1 to ${this.outputs.length}, not ${String(channel).slice(0, 16)}`);
    }
    if (typeof d.on !== "boolean") {
      this.refused++;
      throw new CommandRefused(CODES.BAD_COMMAND, "set_relay needs {channel, on: true | false}");
    }
    const on = d.on;
    const at = Date.now();
    if (this.lockedOut.has(channel)) {
      this.refused++;
      const message = `channel ${channel} is locked out for maintenance`;
      this.#report(channel, { status: "refused", on, at, code: CODES.LOCKED_OUT, error: message });
      this.client.log("warn", `refused to switch channel ${channel} ${on ? "on" : "off"}: locked out`);
      throw new CommandRefused(CODES.LOCKED_OUT, message);
    }
    this.#report(channel, { status: "pending", on, at });
    await new Promise((r) => setTimeout(r, this.#applyDelayMs));
    this.outputs[channel - 1] = on;
    this.applied++;
    const appliedAt = Date.now();
    this.#report(channel, { status: "acked", on, at, ms: appliedAt - at });
    this.client.log("info", `channel ${channel} → ${on ? "ON" : "OFF"}`);
    return { channel, on, appliedAt };
  }

  /** Tells the server an output's state (and a command's fate). Queued while offline; a failure is only counted. */
  #report(channel: number, command?: LastCommand): void {
    const r: RelayReport = { controller: this.id, channel, on: this.outputs[channel - 1]!, ...(command ? { command } : {}) };
    this.client.request(METHODS.report, r).catch((e: TickgateClientError) => {
      if (e.code !== "CLOSED") this.errors.push(e);
    });
  }
}
