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
});

const PolicyRule = z.strictObject({ match: pattern, ...policyFields }).partial().required({ match: true });

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
  return deepFreeze(o);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
