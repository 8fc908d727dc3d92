/**
 * Per-connection state. Lives in the transport's per-socket slot, so the
 * core never looks a connection up by id on a hot path. A session is the
 * gate's caller for everything its connection does.
 * @module
 */
import type { ClientType, Encoding } from "../protocol/frames.ts";
import type { Grants } from "./auth/grants.ts";
import type { Identity } from "./auth/tokens.ts";
import { RateBuckets, TokenBucket, type Caller } from "./caller.ts";
import type { TopicCount } from "./topic.ts";
import type { ServerSocket } from "./transport.ts";
import { queuedBytes, type SlowConsumerGuard } from "./slow-consumers.ts";
import { Subscriptions } from "./subscriptions.ts";

const NO_META: Record<string, string | number | boolean> = Object.freeze({});

/** One connection (WebSocket or SSE stream): its state, and the {@link Caller} the gate checks. */
export class Session implements Caller {
  socket: ServerSocket | null = null;
  readonly json: boolean;
  /** Takes batch frames (negotiated at the upgrade): joins the channels' `B|` / `T|` native channels. */
  batch = false;
  readonly connectedAt = Date.now();
  /** Subscription key → channel. */
  readonly subs = new Subscriptions();
  /** Smallest `limitBytes` over this session's channels: below it, no closer look. */
  minLimit = Infinity;
  /** Sweep round that last checked this session, so one sweep checks it once. */
  sweepMark = 0;
  /** Most bytes sent to this session alone (replies, backlog) since the slow-consumer sweep last looked (see slow-consumers.ts). */
  sentSinceCheck = 0;
  /** The slow-consumer guard, told when this session's own sends could take it near its limit. */
  guard: SlowConsumerGuard | null = null;
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
  /** From the hello; until then one shared empty object (replaced, never changed in place). */
  meta: Record<string, string | number | boolean> = NO_META;
  /** Who the token says this is; null for an anonymous or not-yet-authenticated connection. */
  identity: Identity | null = null;
  /** True until an `auth` frame succeeds, when auth is required and no token came with the upgrade. */
  awaitingAuth = false;
  /** Timer for the auth deadline or the token's expiry. */
  authTimer: ReturnType<typeof setTimeout> | undefined;
  // Made on first use: most connections never publish nor send a bad frame.
  #rates: RateBuckets | undefined;
  #topicCount: TopicCount | undefined;
  #errors: TokenBucket | undefined;
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
    /** Its error budget (options.errorBudget): bad frames it may send before it is closed as abusive. */
    readonly errorBudget: { readonly burst: number; readonly perSecond: number },
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

  get rates(): RateBuckets {
    return (this.#rates ??= new RateBuckets());
  }

  /** Live topics this connection created (its `topicLimits.perConnection` quota). */
  get topicCount(): TopicCount {
    return (this.#topicCount ??= { n: 0 });
  }

  /** Spent by frames that break the protocol; a full bucket until the first. */
  get errors(): TokenBucket {
    return (this.#errors ??= new TokenBucket(this.errorBudget.burst, this.errorBudget.perSecond));
  }

  send(frame: Uint8Array | string): boolean {
    if (this.closed || !this.socket) return false;
    const r = this.socket.send(frame);
    this.sentSinceCheck += queuedBytes(frame);
    if (this.sentSinceCheck > this.minLimit / 4) this.guard?.watch(this);
    return r !== "dropped";
  }

  recomputeMinLimit(): void {
    let m = Infinity;
    for (const ch of this.subs.values()) if (ch.policy.limitBytes < m) m = ch.policy.limitBytes;
    this.minLimit = m;
  }
}
