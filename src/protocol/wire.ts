/**
 * The wire facts both sides share, without zod: client types, encodings and
 * their subprotocol names, the frame type names, the limits a frame's fields
 * obey, and the shapes of the frames a server sends. The server's zod
 * schemas (`frames.ts`) are written from these constants; the client SDK
 * imports them directly, so a browser bundle carries no validator. No
 * hot-path cost: constants and types only.
 * @module
 */

/** The kinds of client a session can be, sent as `?client=` or in `hello`. */
export const CLIENT_TYPES = ["browser", "api", "device", "mobile"] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];

export const ENCODINGS = ["msgpack", "json"] as const;
export type Encoding = (typeof ENCODINGS)[number];
/** WebSocket subprotocol names, one per encoding. */
export const SUBPROTOCOL: Readonly<Record<Encoding, string>> = { msgpack: "tickgate.msgpack", json: "tickgate.json" };
/**
 * The same encodings with batch frames ({@link BatchFrame}): a client that
 * offers one of these first, and the plain name after it, gets batch frames
 * from a server that has them and plain frames from one that does not.
 */
export const BATCH_SUBPROTOCOL: Readonly<Record<Encoding, string>> = { msgpack: "tickgate.msgpack.batch", json: "tickgate.json.batch" };

/** Every frame type a client may send, in the order the welcome lists them. */
export const CLIENT_FRAME_TYPES = ["sub", "unsub", "pub", "ping", "stats", "req", "hello", "auth", "command", "command_ack", "command_nack", "log"] as const;
export type ClientFrameType = (typeof CLIENT_FRAME_TYPES)[number];

/** Levels of a device's `log` frame. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Limits on the fields of client frames; the server's schemas enforce them, the client checks before sending. */
export const LIMITS = {
  /** A frame `id` given as a string. */
  idLength: 64,
  /** A topic or pattern. */
  topicLength: 256,
  /** A conflation / retention key. */
  keyLength: 128,
  /** A request method or command name. */
  nameLength: 128,
  /** A JWT in an `auth` frame. */
  tokenLength: 8192,
  /** The longest `ttlMs` of a `command` frame (one day). */
  commandTtlMs: 86_400_000,
  /** A `log` frame's message. */
  logMessageLength: 4096,
  /** A `command_nack`'s message. */
  nackMessageLength: 1024,
  /** A `hello`'s meta: key length, and string value length. */
  metaKeyLength: 64,
  metaValueLength: 256,
  /** An epoch string in a recover position. */
  epochLength: 64,
} as const;

/** One topic token of 1–128 characters: a device id. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_\-:@~+=]{1,128}$/;
/** An UPPER_SNAKE code of 2–64 characters: how a device names its refusal of a command. */
export const REFUSAL_CODE_PATTERN = /^[A-Z][A-Z0-9_]{1,63}$/;

export type FrameId = string | number;

/**
 * Where a resubscribing client left off: the epoch it saw, and the last seq
 * per topic (`seq` for an exact topic, `topics` for a pattern's topics).
 */
export interface RecoverPosition {
  epoch: string;
  seq?: number | undefined;
  topics?: Record<string, number> | undefined;
}

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
/**
 * Several publications of one subscription in one WebSocket message, sent
 * only to connections that negotiated batch frames. Each element is a whole
 * {@link PublicationFrame} with its own topic and seq, in the order they were
 * published; a client handles them one by one, as if each came alone.
 */
export interface BatchFrame {
  t: "batch";
  msgs: PublicationFrame[];
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
/** Every control frame a server sends (publications are {@link PublicationFrame}). */
export type ServerFrame =
  | DeviceCommandFrame
  | WelcomeFrame
  | AckFrame
  | ErrorFrame
  | PongFrame
  | StatsReplyFrame
  | ResponseFrame
  | GapFrame;
