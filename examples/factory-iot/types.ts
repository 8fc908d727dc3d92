/**
 * What the factory dashboard's server publishes and answers, shared by the
 * server, the relay controllers and the page. Types and names only: the
 * page bundle carries nothing else from here.
 * @module
 */

/** Topics: the seed's three push events, one topic (or one per item) each. */
export const TOPICS = {
  /** `factory.devices.<id>`, one retained value per machine (the seed's `devices_update`). */
  devices: "factory.devices.*",
  device: (id: string) => `factory.devices.${id}`,
  /** `factory.relays.<id>`, one retained value per relay (the seed's `relays_update`). */
  relays: "factory.relays.*",
  relay: (id: string) => `factory.relays.${id}`,
  /** Every 2 s, retained (the seed's `system_stats_update`). */
  systemStats: "system.stats",
  /** tickgate's own presence of device connections: here, the relay controllers. */
  controllers: "devices.*.presence",
  /** The controllers' log lines (`client.log()` on the device), published by tickgate. */
  controllerLogs: "devices.*.log",
} as const;

/** Request methods: the seed's three `request_*` events, and the controllers' state reports. */
export const METHODS = {
  devices: "request_devices",
  relays: "request_relays",
  systemStats: "request_system_stats",
  /** A relay controller reports an output's state and the fate of a command: {@link RelayReport}. */
  report: "report_relay",
} as const;

/** The device command a relay controller understands: data {@link SetRelay}, answer {@link RelayAck}. */
export const SET_RELAY = "set_relay";

/**
 * The application's own error codes. A controller refuses a command with
 * the first three (`command_nack`), and the page shows the code; the server's
 * `report_relay` handler answers with the last three.
 */
export const CODES = {
  /** The output is locked out for maintenance (lockout/tagout): refused until it is released. */
  LOCKED_OUT: "LOCKED_OUT",
  /** The controller has no such channel. */
  UNKNOWN_CHANNEL: "UNKNOWN_CHANNEL",
  /** The command's data is not `{channel, on: boolean}`. */
  BAD_COMMAND: "BAD_COMMAND",
  /** A report names a controller and channel that drive no relay. */
  UNKNOWN_RELAY: "UNKNOWN_RELAY",
  /** Only relay controllers (device connections) report relay states. */
  NOT_A_CONTROLLER: "NOT_A_CONTROLLER",
  /** A controller reports only its own relays: the report names another controller. */
  NOT_YOUR_RELAY: "NOT_YOUR_RELAY",
} as const;

export type MachineStatus = "running" | "idle" | "fault";

/** A machine on the floor (the seed's "device"). */
export interface Machine {
  id: string;
  name: string;
  line: string;
  status: MachineStatus;
  /** °C */
  temperature: number;
  /** kW */
  powerKw: number;
  /** Parts made since start. */
  cycles: number;
  updatedAt: number;
}

/**
 * What became of the last command for a relay. `pending`, `acked` and
 * `refused` are reported by the controller; `timeout` and `failed` only
 * the sender sees (a controller that never got the command cannot say so).
 */
export type CommandStatus = "pending" | "acked" | "refused" | "timeout" | "failed";

export interface LastCommand {
  status: CommandStatus;
  on: boolean;
  at: number;
  /** How long the controller took to apply it. */
  ms?: number;
  /** The refusal's code, e.g. `LOCKED_OUT`. */
  code?: string;
  error?: string;
}

export interface Relay {
  id: string;
  label: string;
  /** The relay controller (a tickgate device id) that switches it. */
  controller: string;
  /** Output channel on that controller, from 1. */
  channel: number;
  /** As last reported by the controller. */
  on: boolean;
  /** The controller has a command for this relay in hand. */
  pending: boolean;
  lastCommand?: LastCommand;
}

/** `request_relays`' answer: the relays, and how long a command may wait for its controller. */
export interface RelaysAnswer {
  relays: Relay[];
  commandTtlMs: number;
}

export interface SystemStats {
  ts: number;
  uptimeSec: number;
  cpuPercent: number;
  memoryMb: number;
  /** Open connections: dashboards, controllers, SSE streams. */
  connections: number;
  dashboards: number;
  controllersOnline: number;
  machines: Record<MachineStatus, number>;
  relaysOn: number;
}

/** `set_relay`'s data. */
export interface SetRelay {
  channel: number;
  on: boolean;
}

/** What a relay controller acknowledges a `set_relay` with. */
export interface RelayAck {
  channel: number;
  on: boolean;
  appliedAt: number;
}

/** A controller's report to the server (`report_relay`): the output as it is, and the command it is about, if any. */
export interface RelayReport {
  controller: string;
  channel: number;
  on: boolean;
  command?: LastCommand;
}

/** tickgate's `devices.<id>.presence` payload. */
export interface Presence {
  state: "online" | "offline";
  ts: number;
  reason?: string;
}

/** tickgate's `devices.<id>.log` payload. */
export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  ts: number;
}
