/**
 * Type-level checks of the server options, run by `tsc --noEmit -p .` (part
 * of `npm test`): each `@ts-expect-error` line must be an error, so a
 * misspelt or mistyped option fails the typecheck.
 */
import type { ServerOptions } from "../../src/core/options.ts";

export const good: ServerOptions = {
  port: 0,
  limits: { maxConnectionsPerIp: 100 },
  auth: { anonymous: { subscribe: ["prices.>"] } },
  policies: [{ match: "prices.>", action: "conflate", retain: true }],
  trustedProxies: ["10.0.0.0/8"],
};

// @ts-expect-error a misspelt top-level key
export const misspelt: ServerOptions = { prot: 8080 };

// @ts-expect-error a misspelt nested key
export const nested: ServerOptions = { limits: { maxConections: 10 } };

// @ts-expect-error a value of the wrong type
export const wrongType: ServerOptions = { port: "8080" };

// @ts-expect-error a value outside an enum
export const badEnum: ServerOptions = { defaultPolicy: { action: "queue" } };

// @ts-expect-error a policy rule needs its match pattern
export const noMatch: ServerOptions = { policies: [{ action: "drop" }] };

// serve() and createServer() take the same typed options: a misspelt key fails tsc.
import { createServer } from "../../src/adapter/bun/index.ts";
// @ts-expect-error a misspelt key passed to createServer
export const misspeltServer = () => createServer({ prot: 8080 });
