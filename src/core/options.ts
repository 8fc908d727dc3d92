/**
 * Server options: one zod schema, validated once into a frozen object.
 * Errors are one line naming the bad key (`config: port: ...`).
 * @module
 */
import { z } from "zod";
import { ENCODINGS } from "../protocol/frames.ts";
import { topicError } from "../protocol/topic.ts";
import { ConfigError } from "./errors.ts";

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
  /** Bytes a subscriber may have queued before `action` applies. */
  limitBytes: z.number().int().positive(),
  action: z.enum(BACKPRESSURE_ACTIONS),
  /** Keep the last publication (per key) and send it to new subscribers. */
  retain: z.boolean(),
  /** Largest publication payload, in bytes of its msgpack encoding. */
  maxPayload: z.number().int().positive(),
  /** Who may publish: clients over the socket, or only server-side producers. */
  publish: z.enum(["clients", "server"]),
  /** Most distinct keys a conflating channel or a retained topic keeps. */
  maxKeys: z.number().int().positive(),
  /** Publications kept per topic for recovery (0: no history). */
  historySize: z.number().int().min(0).max(1_000_000),
  /** Publications older than this are not replayed (0: no age limit). */
  historyTtlMs: z.number().int().min(0),
  /** Publishes per second one connection may make on this topic (0: the connection-wide limit). */
  publishRate: z.number().min(0),
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
  publishRate: 0,
});

const PolicyRule = z.strictObject({ match: pattern, ...policyFields }).partial().required({ match: true });

const grantList = z.array(pattern).max(256);

export const AuthSchema = z.strictObject({
  /** When true, a connection needs a valid token (or anonymous grants) for anything. */
  required: z.boolean(),
  /** HS256 shared secret. */
  secret: z.string().min(32, "must be at least 32 characters").optional(),
  /** PEM (SPKI) public key for RS256 / ES256 / EdDSA tokens. */
  publicKey: z.string().includes("BEGIN PUBLIC KEY", { message: "must be a PEM public key" }).optional(),
  publicKeyAlgorithm: z.enum(["RS256", "ES256", "EdDSA"]),
  /** A JWKS document (`{keys: [...]}`), e.g. read from a file by the CLI. */
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
  issuer: z.string().min(1).optional(),
  audience: z.string().min(1).optional(),
  clockToleranceSec: z.number().int().min(0).max(300),
  /** Refuse tokens without `exp`: a token that never expires cannot be taken back. */
  requireExp: z.boolean(),
  /** A connection without a token must send its `auth` frame within this time. */
  timeoutMs: z.number().int().positive(),
  /** Accept `?token=` on the upgrade URL (devices and EventSource cannot set headers). */
  queryToken: z.boolean(),
  /** What a connection without a token may do. Empty: nothing but `auth`. */
  anonymous: z.strictObject({ subscribe: grantList, publish: grantList, request: grantList }),
});
export type AuthOptions = Readonly<z.infer<typeof AuthSchema>>;

export const LimitsSchema = z.strictObject({
  maxConnections: z.number().int().positive(),
  maxConnectionsPerIp: z.number().int().positive(),
  /** Token bucket for publishes per connection: refill rate and burst. */
  publishPerSecond: z.number().positive(),
  publishBurst: z.number().int().positive(),
  /**
   * Origins browsers may connect from, e.g. `https://app.example.com`. Empty:
   * same origin as the server only. `*` allows any (not recommended).
   */
  allowedOrigins: z.array(z.string().min(1)),
});

export const DevicesSchema = z.strictObject({
  /** Publish `online`/`offline` on `devices.<id>.presence` for device connections. */
  presence: z.boolean(),
  /** Commands queued per device while it is offline. */
  maxQueued: z.number().int().positive(),
  /** Default lifetime of a queued command. */
  commandTtlMs: z.number().int().positive(),
  /** Resend an unacknowledged command this often. */
  redeliverMs: z.number().int().positive(),
});

export const OptionsSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  /** Path that accepts WebSocket upgrades. */
  path: z.string().startsWith("/"),
  defaultEncoding: z.enum(ENCODINGS),
  maxFrameBytes: z.number().int().positive(),
  idleTimeoutSec: z.number().int().min(0).max(960),
  sendPings: z.boolean(),
  perMessageDeflate: z.boolean(),
  maxSubscriptions: z.number().int().positive(),
  maxTopics: z.number().int().positive(),
  /** Bad frames tolerated: `burst` at once, refilled at `perSecond`; past it the connection closes. */
  errorBudget: z.strictObject({ burst: z.number().int().positive(), perSecond: z.number().positive() }),
  requestTimeoutMs: z.number().int().positive(),
  slowConsumer: z.strictObject({
    /** How often queued bytes of recently published-to subscribers are checked. */
    checkIntervalMs: z.number().int().min(5).max(10_000),
    /** Native cap per socket; must exceed every policy's limitBytes. */
    nativeLimitBytes: z.number().int().positive(),
  }),
  defaultPolicy: PolicySchema,
  /** First rule whose `match` pattern covers a topic (or subscription) wins. */
  policies: z.array(PolicyRule),
  /** Graceful shutdown waits this long for sockets to close. */
  shutdownGraceMs: z.number().int().min(0),
  // --- drain (issue 16) ---
  /**
   * On close (SIGTERM): how long `/ready` answers 503 while everything else
   * keeps serving, so load balancers stop sending traffic before sockets close.
   */
  drainMs: z.number().int().min(0).max(600_000),
  /** Topics (or patterns) to list in the welcome frame, so clients can discover what to subscribe to. */
  topics: z.array(pattern).max(1000),
  auth: AuthSchema,
  limits: LimitsSchema,
  devices: DevicesSchema,
});

export type Options = Readonly<z.infer<typeof OptionsSchema>>;
export type PolicyRule = z.infer<typeof PolicyRule>;

/** Anything a user may pass: every field optional, nested ones too. */
export type UserOptions = {
  [K in keyof Options]?: Options[K] extends readonly unknown[] ? Options[K] : Options[K] extends object ? Partial<Options[K]> : Options[K];
};

export function defaultOptions(): Options {
  return {
    host: "127.0.0.1",
    port: DEFAULT_PORT,
    path: "/ws",
    defaultEncoding: "msgpack",
    maxFrameBytes: 1024 * 1024,
    idleTimeoutSec: 120,
    sendPings: true,
    perMessageDeflate: false,
    maxSubscriptions: 1000,
    maxTopics: 100_000,
    errorBudget: { burst: 100, perSecond: 10 },
    requestTimeoutMs: 5000,
    slowConsumer: { checkIntervalMs: 50, nativeLimitBytes: DEFAULT_NATIVE_LIMIT },
    defaultPolicy: DEFAULT_POLICY,
    policies: [],
    shutdownGraceMs: 2000,
    drainMs: 0,
    topics: [],
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
    devices: { presence: true, maxQueued: 100, commandTtlMs: 60_000, redeliverMs: 2000 },
  };
}

function firstIssue(err: z.ZodError): ConfigError {
  const issue = err.issues[0]!;
  const key = issue.path.map(String).join(".");
  return ConfigError.format(key, issue.message);
}

/** Merges user options over the defaults, validates once, freezes. */
export function parseOptions(user: unknown = {}): Options {
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
  };
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

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
