/**
 * Server options: one zod schema, validated once into a frozen object.
 * Errors are one line naming the bad key (`config: port: ...`).
 * @module
 */
import { z } from "zod";
import { ENCODINGS } from "../protocol/frames.ts";
import { topicError } from "../protocol/topic.ts";
import { ConfigError } from "./errors.ts";
import { FORWARDED_HEADERS, proxyEntryError } from "./forwarded.ts";

export const DEFAULT_PORT = 8080;
export const DEFAULT_POLICY_LIMIT = 1024 * 1024;
export const DEFAULT_NATIVE_LIMIT = 16 * 1024 * 1024;

export const BACKPRESSURE_ACTIONS = ["conflate", "drop", "disconnect"] as const;
export type BackpressureAction = (typeof BACKPRESSURE_ACTIONS)[number];

const pattern = z.string().superRefine((s, ctx) => {
  const err = topicError(s, true);
  if (err) ctx.addIssue({ code: "custom", message: `bad topic pattern '${s}': ${err}` });
});

const policyFields = {
  limitBytes: z.number().int().positive().describe("Bytes a subscriber may have queued before `action` applies."),
  action: z.enum(BACKPRESSURE_ACTIONS).describe("What happens to a subscriber past `limitBytes`: `conflate` (latest value per key), `drop` (with a gap notice) or `disconnect` (close 4008)."),
  retain: z.boolean().describe("Keep the last publication (per key) and send it to new subscribers."),
  maxPayload: z.number().int().positive().describe("Largest publication payload, in bytes of its msgpack encoding."),
  publish: z.enum(["clients", "server"]).describe("Who may publish: clients over the socket, or only server-side producers."),
  maxKeys: z.number().int().positive().describe("Most distinct keys a conflating channel or a retained topic keeps."),
  historySize: z.number().int().min(0).max(1_000_000).describe("Publications kept per topic for recovery (0: no history)."),
  historyTtlMs: z.number().int().min(0).describe("Publications older than this are not replayed (0: no age limit)."),
  retainTtlMs: z.number().int().min(0).describe("Retained values older than this are no longer sent, and let the topic be evicted (0: kept forever)."),
  publishRate: z.number().min(0).describe("Publishes per second one connection may make on this topic (0: the connection-wide limit)."),
  linger: z
    .union([z.number().int().min(0).max(1000), z.literal("adaptive")])
    .describe("Write coalescing: hold publications up to this many ms and hand them to the native fan-out together, so each subscriber gets them in one write (0: at once); `adaptive`: at once while the topic is idle, held only while publications arrive faster than their writes complete (2 ms, up to 10 ms while the server is busy). Seq, history and retained values are assigned at publish time either way."),
};

export const PolicySchema = z.strictObject(policyFields);
export type Policy = Readonly<z.infer<typeof PolicySchema>>;

export const DEFAULT_POLICY: Policy = Object.freeze({
  limitBytes: DEFAULT_POLICY_LIMIT,
  action: "drop",
  retain: false,
  maxPayload: 64 * 1024,
  publish: "clients",
  maxKeys: 10_000,
  historySize: 0,
  historyTtlMs: 0,
  retainTtlMs: 0,
  publishRate: 0,
  linger: 0,
});

const PolicyRule = z.strictObject({ match: pattern.describe("Topic pattern the rule applies to, e.g. `prices.>`."), ...policyFields }).partial().required({ match: true });

const grantList = z.array(pattern).max(256);

const proxyEntry = z.string().superRefine((s, ctx) => {
  const err = proxyEntryError(s);
  if (err) ctx.addIssue({ code: "custom", message: err });
});

export const AuthSchema = z.strictObject({
  required: z.boolean().describe("When true, a connection needs a valid token (or anonymous grants) for anything."),
  secret: z.string().min(32, "must be at least 32 characters").optional().describe("HS256 shared secret."),
  publicKey: z.string().includes("BEGIN PUBLIC KEY", { message: "must be a PEM public key" }).optional().describe("PEM (SPKI) public key for RS256 / ES256 / EdDSA tokens."),
  publicKeyAlgorithm: z.enum(["RS256", "ES256", "EdDSA"]).describe("Algorithm of `publicKey`."),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).describe("Public JWKs, at least one (with `kid` when there are several).") }).optional().describe("A JWKS document (`{keys: [...]}`), e.g. read from a file by the CLI."),
  issuer: z.string().min(1).optional().describe("Required `iss` claim, when set."),
  audience: z.string().min(1).optional().describe("Required `aud` claim, when set."),
  clockToleranceSec: z.number().int().min(0).max(300).describe("Clock skew allowed when checking `exp` and `nbf`."),
  requireExp: z.boolean().describe("Refuse tokens without `exp`: a token that never expires cannot be taken back."),
  timeoutMs: z.number().int().positive().describe("A connection without a token must send its `auth` frame within this time."),
  queryToken: z.boolean().describe("Accept `?token=` on the upgrade URL (devices and EventSource cannot set headers)."),
  anonymous: z.strictObject({ subscribe: grantList.describe("Patterns anyone may subscribe to."), publish: grantList.describe("Topics anyone may publish to."), request: grantList.describe("Request methods anyone may call.") }).describe("What a connection without a token may do. Empty: nothing but `auth`."),
});
export type AuthOptions = Readonly<z.infer<typeof AuthSchema>>;

export const LimitsSchema = z.strictObject({
  maxConnections: z.number().int().positive().describe("Open connections (WebSocket and SSE) over all clients; past it upgrades get 503."),
  maxConnectionsPerIp: z.number().int().positive().describe("Open connections from one client address (behind a proxy: see `trustedProxies`)."),
  publishPerSecond: z.number().positive().describe("Token bucket for publishes per connection: refill rate and burst."),
  publishBurst: z.number().int().positive().describe("Publishes one connection may make at once before `publishPerSecond` applies."),
  allowedOrigins: z.array(z.string().min(1)).describe("Origins browsers may connect from, e.g. `https://app.example.com`. Empty: same origin as the server only. `*` allows any (not recommended)."),
});

export const DevicesSchema = z.strictObject({
  presence: z.boolean().describe("Publish `online`/`offline` on `devices.<id>.presence` for device connections."),
  maxQueued: z.number().int().positive().describe("Commands queued per device while it is offline."),
  commandTtlMs: z.number().int().positive().describe("Default lifetime of a queued command."),
  redeliverMs: z.number().int().positive().describe("Resend an unacknowledged command this often."),
  helloWindowMs: z.number().int().min(0).max(60_000).describe("A device known from its token is announced online when its hello comes, or after this long without one (0: at once, and again with the hello's meta): one presence per connect, with the device's meta."),
});

/**
 * Several nodes sharing topics over NATS JetStream (docs/scaling.md). Only
 * validated here; the CLI (or the embedding code) builds the bus from it with
 * `connectBus` in src/cluster, since the core imports no engine.
 */
export const ClusterSchema = z.strictObject({
  /** NATS server URL, or several (comma-separated or a list) for a NATS cluster. */
  nats: z
    .union([z.string(), z.array(z.string()).min(1)])
    .transform((v) => (Array.isArray(v) ? v : v.split(",").map((u) => u.trim())))
    .pipe(z.array(z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, "must be nats://host:port or tls://host:port")))
    .describe("NATS server URL, or several (comma-separated or a list) for a NATS cluster."),
  /** Nodes with the same name share topics; it names the stream (TICKGATE_<name>) and the subjects. */
  name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "must be 1-32 of [A-Za-z0-9_-]").default("tickgate").describe("Nodes with the same name share topics; it names the stream and the subjects."),
  /** Stream replicas: 1 on one NATS server, 3 on a 3-server NATS cluster. */
  replicas: z.number().int().min(1).max(5).default(1).describe("Stream replicas: 1 on one NATS server, 3 on a 3-server NATS cluster."),
  /** How long a publication may wait for JetStream (retries included) before BUS_UNAVAILABLE. */
  publishTimeoutMs: z.number().int().positive().default(5000).describe("How long a publication may wait for JetStream (retries included) before BUS_UNAVAILABLE."),
  /** Heartbeat period; a node silent for three is lost (its devices reported offline). */
  heartbeatMs: z.number().int().min(50).max(60_000).default(1000).describe("How often a node announces itself to the others; a node silent for three periods is lost and its devices are reported offline."),
});

export const OptionsSchema = z.strictObject({
  cluster: ClusterSchema.optional().describe("Share topics with other nodes over NATS JetStream; absent: one node with its own in-process bus."),
  host: z.string().min(1).describe("Address to bind; `0.0.0.0` or `::` for every interface."),
  port: z.number().int().min(0).max(65535).describe("Port to listen on; 0 picks a free one."),
  path: z.string().startsWith("/").describe("Path that accepts WebSocket upgrades."),
  defaultEncoding: z.enum(ENCODINGS).describe("Encoding of connections that offer no subprotocol."),
  maxFrameBytes: z.number().int().positive().describe("Largest WebSocket frame accepted; a larger one closes the connection (1009) before it is read. Default: twice the largest `maxPayload` of any policy plus 16 KiB (144 KiB at the default policy)."),
  idleTimeoutSec: z.number().int().min(0).max(960).describe("A connection silent this long is closed (0: never)."),
  sendPings: z.boolean().describe("Send WebSocket pings so idle but live peers stay connected."),
  perMessageDeflate: z.boolean().describe("Offer permessage-deflate compression (costs CPU per frame)."),
  maxSubscriptions: z.number().int().positive().describe("Subscriptions one connection may hold."),
  maxTopics: z.number().int().positive().describe("Distinct topics the server keeps; publishing to a new one past it is refused."),
  errorBudget: z.strictObject({ burst: z.number().int().positive().describe("Bad frames tolerated at once."), perSecond: z.number().positive().describe("Refill rate of the budget.") }).describe("Bad frames tolerated: `burst` at once, refilled at `perSecond`; past it the connection closes."),
  requestTimeoutMs: z.number().int().positive().describe("A request (`req` frame) handler not done within this time answers with a timeout error."),
  slowConsumer: z.strictObject({
    checkIntervalMs: z.number().int().min(5).max(10_000).describe("How often queued bytes are checked while a subscriber could be near its limit (see docs/architecture.md, slow consumers)."),
    nativeLimitBytes: z.number().int().positive().describe("Native cap per socket; must exceed every policy's limitBytes."),
    maxLagMs: z.number().int().min(0).describe("A subscriber lagging (under `drop`/`conflate`) this long without draining is closed with 4008; 0: never."),
  }).describe("How subscribers that fall behind are found."),
  defaultPolicy: PolicySchema.describe("The policy of topics no rule in `policies` matches."),
  policies: z.array(PolicyRule).describe("First rule whose `match` pattern covers a topic (or subscription) wins."),
  topicLimits: z
    .strictObject({
      idleMs: z.number().int().min(0).describe("A topic with no subscribers and no retained value or history left is evicted after this long without a publication."),
      perConnection: z.number().int().positive().describe("Live topics one connection may have created (TOPIC_QUOTA past it)."),
      perIdentity: z.number().int().positive().describe("Live topics one token subject (or address, without a token) may have created."),
    })
    .describe("Topic life cycle and creation quotas; server-side publications are exempt from the quotas and from `maxTopics`."),
  shutdownGraceMs: z.number().int().min(0).describe("Graceful shutdown waits this long for sockets to close."),
  drainMs: z.number().int().min(0).max(600_000).describe("On close (SIGTERM): how long `/ready` answers 503 while everything else keeps serving, so load balancers stop sending traffic before sockets close."),
  topics: z.array(pattern).max(1000).describe("Topics (or patterns) to list in the welcome frame, so clients can discover what to subscribe to."),
  trustedProxies: z.array(proxyEntry).max(1000).describe("Reverse proxies (addresses or CIDR ranges) whose forwarded client address is used for per-IP limits and logs. Empty: the socket's peer address, headers ignored."),
  forwardedHeader: z.enum(FORWARDED_HEADERS).describe("Header a trusted proxy writes the client address to: `x-forwarded-for` or `forwarded` (RFC 7239)."),
  auth: AuthSchema.describe("Token authentication."),
  limits: LimitsSchema.describe("Connection and publish limits, origin check."),
  devices: DevicesSchema.describe("Device presence and command queueing."),
});

export type Options = Readonly<z.infer<typeof OptionsSchema>>;
export type PolicyRule = z.infer<typeof PolicyRule>;

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * What `createServer()` and `serve()` take: the schema's input type with
 * every field optional, nested ones too. A misspelt key is a type error.
 * @example
 * const options: ServerOptions = { port: 8080, limits: { maxConnectionsPerIp: 100 } };
 */
export type ServerOptions = DeepPartial<z.input<typeof OptionsSchema>>;
/** The same as {@link ServerOptions} (the earlier name). */
export type UserOptions = ServerOptions;

/**
 * The default frame limit for servers whose largest publication payload is
 * `maxPayload`: room for the payload in JSON (up to twice its msgpack size
 * for typical values) and the frame's other fields. The limit is enforced
 * natively, from the frame header, so a frame no policy could accept is
 * refused before the server reads it: a megabyte of padding costs nothing.
 */
export function frameBytesFor(maxPayload: number): number {
  return 2 * maxPayload + 16 * 1024;
}

export function defaultOptions(): Options {
  return {
    host: "127.0.0.1",
    port: DEFAULT_PORT,
    path: "/ws",
    defaultEncoding: "msgpack",
    maxFrameBytes: frameBytesFor(DEFAULT_POLICY.maxPayload),
    idleTimeoutSec: 120,
    sendPings: true,
    perMessageDeflate: false,
    maxSubscriptions: 1000,
    maxTopics: 100_000,
    errorBudget: { burst: 100, perSecond: 10 },
    requestTimeoutMs: 5000,
    slowConsumer: { checkIntervalMs: 50, nativeLimitBytes: DEFAULT_NATIVE_LIMIT, maxLagMs: 60_000 },
    defaultPolicy: DEFAULT_POLICY,
    policies: [],
    topicLimits: { idleMs: 60_000, perConnection: 1000, perIdentity: 10_000 },
    shutdownGraceMs: 2000,
    drainMs: 0,
    topics: [],
    trustedProxies: [],
    forwardedHeader: "x-forwarded-for",
    auth: {
      required: false,
      publicKeyAlgorithm: "RS256",
      clockToleranceSec: 5,
      requireExp: true,
      timeoutMs: 5000,
      queryToken: true,
      anonymous: { subscribe: [], publish: [], request: [] },
    },
    limits: { maxConnections: 100_000, maxConnectionsPerIp: 10_000, publishPerSecond: 1000, publishBurst: 2000, allowedOrigins: [] },
    devices: { presence: true, maxQueued: 100, commandTtlMs: 60_000, redeliverMs: 2000, helloWindowMs: 1000 },
  };
}

function firstIssue(err: z.ZodError): ConfigError {
  const issue = err.issues[0]!;
  const key = issue.path.map(String).join(".");
  return ConfigError.format(key, issue.message);
}

/** Merges user options over the defaults, validates once, freezes. */
export function parseOptions(user: ServerOptions | unknown = {}): Options {
  if (user === null || typeof user !== "object" || Array.isArray(user)) {
    throw ConfigError.format("", "options must be an object");
  }
  const d = defaultOptions();
  const u = user as Record<string, any>;
  const merged = {
    ...d,
    ...u,
    errorBudget: { ...d.errorBudget, ...(u.errorBudget ?? {}) },
    slowConsumer: { ...d.slowConsumer, ...(u.slowConsumer ?? {}) },
    defaultPolicy: { ...d.defaultPolicy, ...(u.defaultPolicy ?? {}) },
    auth: { ...d.auth, ...(u.auth ?? {}), anonymous: { ...d.auth.anonymous, ...(u.auth?.anonymous ?? {}) } },
    limits: { ...d.limits, ...(u.limits ?? {}) },
    devices: { ...d.devices, ...(u.devices ?? {}) },
    topicLimits: { ...d.topicLimits, ...(u.topicLimits ?? {}) },
  };
  if (u.maxFrameBytes === undefined) merged.maxFrameBytes = derivedFrameBytes(merged);
  const r = OptionsSchema.safeParse(merged);
  if (!r.success) throw firstIssue(r.error);
  const o = r.data;
  const limits = [o.defaultPolicy.limitBytes, ...o.policies.map((p) => p.limitBytes ?? 0)];
  limits.forEach((l, i) => {
    if (l >= o.slowConsumer.nativeLimitBytes) {
      const key = i === 0 ? "defaultPolicy.limitBytes" : `policies.${i - 1}.limitBytes`;
      throw ConfigError.format(key, `must be below slowConsumer.nativeLimitBytes (${o.slowConsumer.nativeLimitBytes})`);
    }
  });
  const a = o.auth;
  if (a.required && !a.secret && !a.publicKey && !a.jwks) {
    throw ConfigError.format("auth.secret", "auth.required is true but no secret, publicKey or jwks is set");
  }
  if ([a.secret, a.publicKey, a.jwks].filter(Boolean).length > 1) {
    throw ConfigError.format("auth", "set one and only one of secret, publicKey, jwks");
  }
  return deepFreeze(o);
}

/** The default `maxFrameBytes` for the policies given; a malformed policy is left for the schema to name. */
function derivedFrameBytes(merged: { defaultPolicy: { maxPayload?: unknown }; policies?: unknown }): number {
  const payloads = [merged.defaultPolicy.maxPayload];
  if (Array.isArray(merged.policies)) for (const p of merged.policies) payloads.push(p?.maxPayload);
  const largest = Math.max(...payloads.filter((v): v is number => typeof v === "number" && Number.isFinite(v) && v > 0));
  return frameBytesFor(Number.isFinite(largest) ? largest : DEFAULT_POLICY.maxPayload);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
