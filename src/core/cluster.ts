/**
 * What a cluster bus offers beyond numbering publications: the services a
 * node shares with the other nodes (the set of online devices, device
 * commands, request handlers, a cluster view for stats). The core owns the
 * interface and imports no engine; `src/cluster` implements it over NATS.
 * Without it (the `LocalBus`), every service stays in the node's memory as
 * before. Nothing here runs per delivery.
 * @module
 */
import type { ClientType } from "../protocol/frames.ts";
import type { RequestContext } from "./requests.ts";

/** One node's own figures, as it announces them to the others. */
export interface NodeFigures {
  connections: number;
  sessions: Record<ClientType, number>;
  subscriptions: number;
  /** Devices this node holds the connection of. */
  devicesOnline: number;
  /** Request methods this node has a handler for. */
  methods: string[];
}

export interface NodeView extends NodeFigures {
  node: string;
  /** `Date.now()` of the node's last heartbeat. */
  at: number;
}

/** The cluster part of a stats snapshot: nodes heard from recently, summed. */
export interface ClusterView {
  nodes: NodeView[];
  connections: number;
  sessions: Record<ClientType, number>;
  /** Online devices in the whole cluster (the shared presence set). */
  devicesOnline: number;
}

/** A command taken from the cluster's queue for a device connected to this node. */
export interface QueuedCommand {
  cid: string;
  name: string;
  data: unknown;
  expiresAt: number;
  /** The device acked (`data`) or refused (`code`, `message`); reaches the node that issued it. */
  settle(result: { data: unknown } | { code: string; message: string }): void;
}

/** What the node gives its cluster services. */
export interface ClusterLocal {
  /** This node's id (its bus epoch is shared, so a separate one). */
  readonly node: string;
  figures(): NodeFigures;
  /** Runs a request with a handler on this node (never forwards). */
  call(method: string, data: unknown, ctx: RequestContext): Promise<unknown>;
  /** A command for a device; ignored unless the device is connected here. */
  take(device: string, cmd: QueuedCommand): void;
  /** The cluster reported this device connection's node lost (it was frozen or cut off): close it so the device reconnects and is claimed afresh. */
  drop(device: string, session: string): void;
  /** Publishes as the server (a lost node's device presence). */
  publish(topic: string, data: unknown, key: string): void;
}

export interface ClusterServices {
  start(local: ClusterLocal): Promise<void>;
  stop(): Promise<void>;
  /** This node now holds the device's connection `session`; the newest claim wins. */
  claim(device: string, session: string): void;
  /** The connection closed; resolves `true` when this node still owned the device (so it reports it offline). */
  release(device: string, session: string): Promise<boolean>;
  isOnline(device: string): boolean;
  devicesOnline(): number;
  /** Queues a command in the cluster; resolves with the device's ack wherever it is connected. */
  command(device: string, name: string, data: unknown, ttlMs: number, maxQueued: number): Promise<unknown>;
  /** This node has a handler for `method` now. */
  offer(method: string): void;
  /** Runs `method` on a node that has a handler; rejects NO_HANDLER when none has. */
  request(method: string, data: unknown, ctx: RequestContext, timeoutMs: number): Promise<unknown>;
  view(): ClusterView;
  /** Request methods some live node has a handler for. */
  methods(): string[];
}
