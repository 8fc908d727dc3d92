/**
 * Frame schemas. Every frame, both directions, is one map with a `t` field
 * naming its type. Client frames are validated with zod; server frames are
 * typed only, since the server builds them.
 * @module
 */
import { z } from "zod";
import { Filter, Tags } from "./filter.ts";

export const CLIENT_TYPES = ["browser", "api", "device", "mobile"] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];

const id = z.union([z.string().max(64), z.number().int().safe()]).optional();
const topic = z.string().min(1).max(256);

const seqNumber = z.number().int().min(0).safe();
/**
 * Where a resubscribing client left off: the epoch it saw, and the last seq
 * per topic (`seq` for an exact topic, `topics` for a pattern's topics).
 */
export const RecoverPosition = z.object({
  epoch: z.string().min(1).max(64),
  seq: seqNumber.optional(),
  topics: z.record(z.string().max(256), seqNumber).optional(),
});
export type RecoverPosition = z.infer<typeof RecoverPosition>;
export const SubscribeFrame = z.object({ t: z.literal("sub"), id, topic, recover: RecoverPosition.optional(), filter: Filter.optional() });
/** Unsubscribe names the subscription as it was made: topic, and filter if it had one. */
export const UnsubscribeFrame = z.object({ t: z.literal("unsub"), id, topic, filter: Filter.optional() });
export const PublishFrame = z.object({
  t: z.literal("pub"),
  id,
  topic,
  /** Conflation / retention key, e.g. the symbol of a tick. */
  key: z.string().min(1).max(128).optional(),
  /** Tags that subscription filters select on, e.g. a news item's keywords. */
  tags: Tags.optional(),
  data: z.unknown(),
});
export const PingFrame = z.object({ t: z.literal("ping"), id });
export const StatsFrame = z.object({ t: z.literal("stats"), id });
export const RequestFrame = z.object({
  t: z.literal("req"),
  id: z.union([z.string().max(64), z.number().int().safe()]),
  method: z.string().min(1).max(128),
  data: z.unknown().optional(),
});
/** One topic token of at most 128 characters: a device id. */
export const DeviceId = z.string().regex(/^[A-Za-z0-9_\-:@~+=]{1,128}$/, "must be one topic token");
const token = DeviceId;
export const HelloFrame = z.object({
  t: z.literal("hello"),
  id,
  client: z.enum(CLIENT_TYPES),
  meta: z.record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean()])).optional(),
  /** A device's id when auth is off (with auth on, the token's `sub` is the id). */
  device: token.optional(),
  /** Published for the device if its connection ends abnormally (the device must be allowed to publish there). */
  will: z.object({ topic, key: z.string().min(1).max(128).optional(), data: z.unknown() }).optional(),
});
/** Authenticates (or refreshes) with a JWT, for clients that cannot set headers. */
export const AuthFrame = z.object({ t: z.literal("auth"), id, token: z.string().min(1).max(8192) });
/** Sends a command to a device, at least once; answered with `res` when the device acks. */
export const CommandFrame = z.object({
  t: z.literal("command"),
  id: z.union([z.string().max(64), z.number().int().safe()]),
  device: token,
  name: z.string().min(1).max(128),
  data: z.unknown().optional(),
  /** How long the command may wait for the device (queued while offline). */
  ttlMs: z.number().int().positive().max(86_400_000).optional(),
});
/** A device acknowledges a command it received (by `cid`), optionally with a result. */
export const CommandAckFrame = z.object({ t: z.literal("command_ack"), id, cid: z.string().min(1).max(64), data: z.unknown().optional() });
/** A device refuses a command (by `cid`): the sender's call fails with this code. */
export const CommandNackFrame = z.object({
  t: z.literal("command_nack"),
  id,
  cid: z.string().min(1).max(64),
  code: z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/, "must be an UPPER_SNAKE code"),
  message: z.string().max(1024).default("the device refused the command"),
});
/** A device's log line, published on `devices.<id>.log`. */
export const LogFrame = z.object({
  t: z.literal("log"),
  id,
  level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  message: z.string().max(4096),
});

/** Schemas by type tag; `t` is looked up here before anything else. */
export const clientFrameSchemas = {
  sub: SubscribeFrame,
  unsub: UnsubscribeFrame,
  pub: PublishFrame,
  ping: PingFrame,
  stats: StatsFrame,
  req: RequestFrame,
  hello: HelloFrame,
  auth: AuthFrame,
  command: CommandFrame,
  command_ack: CommandAckFrame,
  command_nack: CommandNackFrame,
  log: LogFrame,
} as const;

export type ClientFrameType = keyof typeof clientFrameSchemas;
export type ClientFrame = { [K in ClientFrameType]: z.infer<(typeof clientFrameSchemas)[K]> }[ClientFrameType];
export type FrameId = string | number;

/**
 * A publication's payload as it arrived: raw msgpack bytes from a binary
 * frame (carried to subscribers untouched), or a value from JSON / a
 * server-side producer.
 */
export interface Payload {
  readonly raw?: Uint8Array;
  /** Known only when the key is present (`"value" in payload`). */
  readonly value?: unknown;
}

export interface WelcomeFrame {
  t: "welcome";
  session: string;
  ts: number;
  encoding: Encoding;
  client: ClientType;
  server: { name: "tickgate"; version: string; node: string };
  limits: { maxFrameBytes: number; maxPayload: number; maxSubscriptions: number };
  /** Frame types this server accepts, so a client can discover commands. */
  commands: ClientFrameType[];
  /** Request methods registered on the server. */
  methods: string[];
  /** Topics the server advertises (option `topics`); absent when none. */
  topics?: string[];
}
export interface PublicationFrame {
  t: "msg";
  topic: string;
  seq: number;
  epoch: string;
  ts: number;
  key?: string;
  tags?: string[];
  data: unknown;
}
/** Why a recovery could not replay everything the client missed. */
export type RecoveryFailure = "epoch" | "window";

export interface AckFrame {
  t: "ack";
  id: FrameId;
  /** On SSE streams, which subscription this ack is for. */
  topic?: string;
  /**
   * For a publish: the sequence number the publication got. For a subscribe
   * to an exact topic: the topic's latest seq when the subscription began.
   */
  seq?: number;
  /** For a subscribe: the epoch the seq numbers belong to. */
  epoch?: string;
  /**
   * For a subscribe: how many publications (replayed history, then retained
   * values) follow this ack before live ones; the snapshot is complete after
   * that many `msg` frames.
   */
  backlog?: number;
  /** For a subscribe that asked to recover. Replayed publications follow the ack, then live ones. */
  recovery?: {
    ok: boolean;
    replayed: number;
    /** Set when `ok` is false: the epoch changed, or the position fell out of the history window. */
    reason?: RecoveryFailure;
  };
}
export interface ErrorFrame {
  t: "error";
  id?: FrameId;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}
export interface PongFrame {
  t: "pong";
  id?: FrameId;
  ts: number;
}
export interface StatsReplyFrame {
  t: "stats";
  id?: FrameId;
  data: unknown;
}
export interface ResponseFrame {
  t: "res";
  id: FrameId;
  data: unknown;
}
export interface GapFrame {
  t: "gap";
  /** The subscription (topic or pattern) that missed publications. */
  topic: string;
  reason: string;
  /** How many publications were not delivered. */
  count: number;
}
/** A command delivered to a device; it may arrive more than once until acked. */
export interface DeviceCommandFrame {
  t: "command";
  cid: string;
  name: string;
  data: unknown;
  ts: number;
}
export type ServerFrame =
  | DeviceCommandFrame
  | WelcomeFrame
  | AckFrame
  | ErrorFrame
  | PongFrame
  | StatsReplyFrame
  | ResponseFrame
  | GapFrame;

export const ENCODINGS = ["msgpack", "json"] as const;
export type Encoding = (typeof ENCODINGS)[number];
/** WebSocket subprotocol names, one per encoding. */
export const SUBPROTOCOL: Record<Encoding, string> = { msgpack: "tickgate.msgpack", json: "tickgate.json" };
