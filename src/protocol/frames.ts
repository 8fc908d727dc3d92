/**
 * The server's zod schemas of client frames. Every frame, both directions,
 * is one map with a `t` field naming its type. The facts the schemas are
 * written from (client types, encodings, limits, frame names) and the
 * server frames' shapes live in `wire.ts`, which the client shares without
 * zod; they are re-exported here for the server's modules. Cost: one
 * `safeParse` per control frame; `pub` frames are checked by hand in
 * `pub-frame.ts` (held to `PublishFrame` by property tests) and reach the
 * schema only when refused, for its error; publications' data is never
 * parsed here.
 * @module
 */
import { z } from "zod";
import { Filter, Tags } from "./filter.ts";
import { CLIENT_TYPES, DEVICE_ID_PATTERN, LIMITS, LOG_LEVELS, REFUSAL_CODE_PATTERN, type ClientFrameType as WireFrameType, type RecoverPosition as WireRecoverPosition } from "./wire.ts";

export {
  BATCH_SUBPROTOCOL,
  CLIENT_FRAME_TYPES,
  CLIENT_TYPES,
  ENCODINGS,
  SUBPROTOCOL,
  type AckFrame,
  type BatchFrame,
  type ClientType,
  type DeviceCommandFrame,
  type Encoding,
  type ErrorFrame,
  type FrameId,
  type GapFrame,
  type Payload,
  type PongFrame,
  type PublicationFrame,
  type RecoveryFailure,
  type ResponseFrame,
  type ServerFrame,
  type StatsReplyFrame,
  type WelcomeFrame,
} from "./wire.ts";

const frameId = z.union([z.string().max(LIMITS.idLength), z.number().int().safe()]);
const id = frameId.optional();
const topic = z.string().min(1).max(LIMITS.topicLength);
const key = z.string().min(1).max(LIMITS.keyLength);

const seqNumber = z.number().int().min(0).safe();
/**
 * Where a resubscribing client left off: the epoch it saw, and the last seq
 * per topic (`seq` for an exact topic, `topics` for a pattern's topics).
 */
export const RecoverPosition = z.object({
  epoch: z.string().min(1).max(LIMITS.epochLength),
  seq: seqNumber.optional(),
  topics: z.record(z.string().max(LIMITS.topicLength), seqNumber).optional(),
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
  key: key.optional(),
  /** Tags that subscription filters select on, e.g. a news item's keywords. */
  tags: Tags.optional(),
  data: z.unknown(),
});
export const PingFrame = z.object({ t: z.literal("ping"), id });
export const StatsFrame = z.object({ t: z.literal("stats"), id });
export const RequestFrame = z.object({
  t: z.literal("req"),
  id: frameId,
  method: z.string().min(1).max(LIMITS.nameLength),
  data: z.unknown().optional(),
});
/** One topic token of at most 128 characters: a device id. */
export const DeviceId = z.string().regex(DEVICE_ID_PATTERN, "must be one topic token");
const token = DeviceId;
export const HelloFrame = z.object({
  t: z.literal("hello"),
  id,
  client: z.enum(CLIENT_TYPES),
  meta: z.record(z.string().max(LIMITS.metaKeyLength), z.union([z.string().max(LIMITS.metaValueLength), z.number(), z.boolean()])).optional(),
  /** A device's id when auth is off (with auth on, the token's `sub` is the id). */
  device: token.optional(),
  /** Published for the device if its connection ends abnormally (the device must be allowed to publish there). */
  will: z.object({ topic, key: key.optional(), data: z.unknown().optional() }).optional(),
});
/** Authenticates (or refreshes) with a JWT, for clients that cannot set headers. */
export const AuthFrame = z.object({ t: z.literal("auth"), id, token: z.string().min(1).max(LIMITS.tokenLength) });
/** Sends a command to a device, at least once; answered with `res` when the device acks. */
export const CommandFrame = z.object({
  t: z.literal("command"),
  id: frameId,
  device: token,
  name: z.string().min(1).max(LIMITS.nameLength),
  data: z.unknown().optional(),
  /** How long the command may wait for the device (queued while offline). */
  ttlMs: z.number().int().positive().max(LIMITS.commandTtlMs).optional(),
});
/** A device acknowledges a command it received (by `cid`), optionally with a result. */
export const CommandAckFrame = z.object({ t: z.literal("command_ack"), id, cid: z.string().min(1).max(64), data: z.unknown().optional() });
/** A device refuses a command (by `cid`): the sender's call fails with this code. */
export const CommandNackFrame = z.object({
  t: z.literal("command_nack"),
  id,
  cid: z.string().min(1).max(64),
  code: z.string().regex(REFUSAL_CODE_PATTERN, "must be an UPPER_SNAKE code"),
  message: z.string().max(LIMITS.nackMessageLength).default("the device refused the command"),
});
/** A device's log line, published on `devices.<id>.log`. */
export const LogFrame = z.object({
  t: z.literal("log"),
  id,
  level: z.enum(LOG_LEVELS).default("info"),
  message: z.string().max(LIMITS.logMessageLength),
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

// The schemas and wire.ts name the same frame types and the same recover position; tsc checks it here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameTypes: Same<ClientFrameType, WireFrameType> = true;
const sameRecover: Same<Required<RecoverPosition>, Required<WireRecoverPosition>> = true;
void sameTypes, sameRecover;

