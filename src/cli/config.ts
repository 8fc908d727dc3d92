/**
 * Builds server options from a JSON config file, environment variables and
 * flags (in rising precedence). Only the CLI reads the environment.
 * @module
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "../core/errors.ts";

/** Environment variables the CLI understands, and the option each sets. */
export const ENV_KEYS = {
  TICKGATE_HOST: "host",
  TICKGATE_PORT: "port",
  TICKGATE_PATH: "path",
  TICKGATE_DEFAULT_ENCODING: "defaultEncoding",
  TICKGATE_IDLE_TIMEOUT_SEC: "idleTimeoutSec",
  TICKGATE_MAX_FRAME_BYTES: "maxFrameBytes",
  TICKGATE_TRUSTED_PROXIES: "trustedProxies",
} as const;

/** Values TICKGATE_DEMO accepts; anything else is a config error naming it. */
export const DEMO_ENV_VALUES = { on: ["1", "true"], off: ["0", "false", ""] } as const;

/** Whether TICKGATE_DEMO asks for the demo (unset: no). */
export function demoFromEnv(raw: string | undefined): boolean {
  if (raw === undefined) return false;
  if ((DEMO_ENV_VALUES.on as readonly string[]).includes(raw)) return true;
  if ((DEMO_ENV_VALUES.off as readonly string[]).includes(raw)) return false;
  throw new ConfigError(`config: TICKGATE_DEMO must be 1, true, 0 or false, got '${raw}'`);
}

const NUMERIC = new Set(["port", "idleTimeoutSec", "maxFrameBytes"]);

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`config: cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("top level must be an object");
    // Editors read "$schema" (config.schema.json in the package); the server has no such option.
    delete v.$schema;
    return v;
  } catch (e) {
    throw new ConfigError(`config: '${path}' is not valid JSON: ${(e as Error).message}`);
  }
}

/** Options given as a comma-separated list in the environment. */
const LISTS = new Set(["trustedProxies"]);

function coerce(key: string, raw: string, source: string): unknown {
  if (LISTS.has(key)) return raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (!NUMERIC.has(key)) return raw;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) throw ConfigError.format(key, `${source} must be a number, got '${raw}'`);
  return n;
}

export function optionsFromEnv(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined) out[key] = coerce(key, v, name);
  }
  return out;
}

/**
 * Auth settings from the environment, so a secret never has to sit in a
 * config file: TICKGATE_AUTH_SECRET (HS256), TICKGATE_AUTH_REQUIRED=1.
 */
export function authFromEnv(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (env.TICKGATE_AUTH_SECRET !== undefined) out.secret = env.TICKGATE_AUTH_SECRET;
  const req = env.TICKGATE_AUTH_REQUIRED;
  if (req !== undefined) {
    if (!["0", "1", "true", "false"].includes(req)) throw ConfigError.format("auth.required", `TICKGATE_AUTH_REQUIRED must be 1 or 0, got '${req}'`);
    out.required = req === "1" || req === "true";
  }
  return out;
}

/**
 * Reads key files named in the config (`auth.publicKeyFile`, `auth.jwksFile`)
 * into the options the server takes (`auth.publicKey`, `auth.jwks`).
 */
export function resolveAuthFiles(auth: Record<string, unknown>): Record<string, unknown> {
  const out = { ...auth };
  const read = (key: string) => {
    const path = out[key];
    if (typeof path !== "string") throw ConfigError.format(`auth.${key}`, "must be a file path");
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      throw ConfigError.format(`auth.${key}`, `cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  if ("publicKeyFile" in out) {
    out.publicKey = read("publicKeyFile");
    delete out.publicKeyFile;
  }
  if ("jwksFile" in out) {
    const text = read("jwksFile");
    try {
      out.jwks = JSON.parse(text);
    } catch (e) {
      throw ConfigError.format("auth.jwksFile", `not valid JSON: ${(e as Error).message}`);
    }
    delete out.jwksFile;
  }
  return out;
}

export function optionsFromFlags(flags: { host?: string | undefined; port?: string | undefined }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (flags.host !== undefined) out.host = flags.host;
  if (flags.port !== undefined) out.port = coerce("port", flags.port, "--port");
  return out;
}
