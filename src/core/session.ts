/**
 * Per-connection state. Lives in the transport's per-socket slot, so the
 * core never looks a connection up by id on a hot path. A session is the
 * gate's caller for everything its connection does.
 * @module
 */
import type { ClientType, Encoding } from "../protocol/frames.ts";
import type { Grants } from "./auth/grants.ts";
import type { Identity } from "./auth/tokens.ts";
import type { Channel } from "./channel.ts";
import { RateBuckets, type Caller, type TokenBucket } from "./caller.ts";
import type { TopicCount } from "./topic.ts";
import type { ServerSocket } from "./transport.ts";

/** One connection (WebSocket or SSE stream): its state, and the {@link Caller} the gate checks. */
export class Session implements Caller {
  socket: ServerSocket | null = null;
  readonly json: boolean;
  /** Takes batch frames (negotiated at the upgrade): joins the channels' `B|` / `T|` native channels. */
  batch = false;
  readonly connectedAt = Date.now();
  /** Subscription key → channel. */
  readonly subs = new Map<string, Channel>();
  /** Smallest `limitBytes` over this session's channels: below it, no closer look. */
  minLimit = Infinity;
  /** Sweep round that last checked this session, so one sweep checks it once. */
  sweepMark = 0;
  closed = false;
  /** Something arrived from the peer since the last liveness sweep (see liveness.ts). */
  heard = false;
  /** When the liveness sweep last saw the peer silent after hearing it (ms). */
  quietSince = Date.now();
  /** When the liveness sweep pinged the silent peer; 0 when not waiting for an answer. */
  pingedAt = 0;
  messagesIn = 0;
  bytesIn = 0;
  dropped = 0;
  conflated = 0;
  meta: Record<string, string | number | boolean> = {};
  /** Who the token says this is; null for an anonymous or not-yet-authenticated connection. */
  identity: Identity | null = null;
  /** True until an `auth` frame succeeds, when auth is required and no token came with the upgrade. */
  awaitingAuth = false;
  /** Timer for the auth deadline or the token's expiry. */
  authTimer: ReturnType<typeof setTimeout> | undefined;
  readonly rates = new RateBuckets();
  /** Live topics this connection created (its `topicLimits.perConnection` quota). */
  readonly topicCount: TopicCount = { n: 0 };
  /** Set for device connections: the id commands and presence use. */
  deviceId: string | undefined;
  /** Its hello arrived: presence need not wait for one (see `devices.ts`). */
  helloed = false;
  /** Presence published and queued commands flushed for this connection already. */
  deviceAttached = false;
  /** Published for the device if it disconnects abnormally. */
  will: { topic: string; data: unknown; key?: string | undefined } | undefined;

  constructor(
    readonly id: string,
    readonly encoding: Encoding,
    public client: ClientType,
    readonly remoteAddress: string,
    readonly errors: TokenBucket,
    /** What this connection may subscribe to, publish to and request. */
    public grants: Grants,
    /** The transport it came by. */
    readonly via: "ws" | "sse" = "ws",
  ) {
    this.json = encoding === "json";
  }

  get sessionId(): string {
    return this.id;
  }

  send(frame: Uint8Array | string): boolean {
    if (this.closed || !this.socket) return false;
    return this.socket.send(frame) !== "dropped";
  }

  recomputeMinLimit(): void {
    let m = Infinity;
    for (const ch of this.subs.values()) if (ch.policy.limitBytes < m) m = ch.policy.limitBytes;
    this.minLimit = m;
  }
}
