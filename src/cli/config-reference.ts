/**
 * The configuration reference, generated from the one zod schema
 * (core/options.ts) and the CLI's own tables: the JSON Schema shipped as
 * `config.schema.json` (editor completion for config files) and the tables
 * of docs/config.md. `scripts/gen-config.ts` writes both; a test keeps them
 * equal to what this module makes. Runs at build time only.
 * @module
 */
import { z } from "zod";
import { defaultOptions, OptionsSchema } from "../core/options.ts";
import { ENV_KEYS } from "./config.ts";

type Json = { [k: string]: unknown };

/** Environment variables the server reads, beyond {@link ENV_KEYS}, and the option each sets. */
const AUTH_ENV = { TICKGATE_AUTH_SECRET: "auth.secret", TICKGATE_AUTH_REQUIRED: "auth.required" } as const;
/** Flags of `tickgate serve` that set an option. */
const OPTION_FLAGS = { host: "--host", port: "--port", "cluster.nats": "--nats" } as const;

/** Every environment variable that sets a server option, with that option's path. */
export const OPTION_ENV: Readonly<Record<string, string>> = { ...ENV_KEYS, ...AUTH_ENV };

/** Settings of the `tickgate` command itself (not server options): name, flag, default, meaning. */
export const CLI_SETTINGS: readonly { env?: string; flag?: string; def: string; what: string }[] = [
  { env: "TICKGATE_CONFIG", flag: "--config FILE", def: "none", what: "JSON config file (this reference's options; `$schema` is allowed and ignored)." },
  { env: "TICKGATE_LOG_LEVEL", flag: "--log-level L", def: "`info`", what: "fatal, error, warn, info, debug, trace or silent. Logs are pino JSON lines on stdout; `silent` writes none." },
  { env: "TICKGATE_DEMO", flag: "--demo / --no-demo", def: "off", what: "Serve the live dashboard at `/` with simulated feeds (fake prices on `prices.*`, fake devices on `devices.*`). The variable takes `1`/`true` or `0`/`false`; anything else is an error. `--no-demo` wins over the variable." },
  { flag: "--symbols A,B", def: "BTC-USD,ETH-USD,…", what: "Demo market symbols (needs --demo)." },
  { flag: "--rate N", def: "20", what: "Demo market ticks per second over all symbols (needs --demo)." },
  { flag: "--devices N", def: "12", what: "Simulated devices; 0: none (needs --demo)." },
  { flag: "--device-interval MS", def: "1000", what: "Mean time between one simulated device's readings (needs --demo)." },
  { flag: "--runtime R", def: "the one running", what: "`bun` (Bun.serve) or `node` (uWebSockets.js native build, `tickgate/node`); under Node the default is `node`." },
  { flag: "--workers N", def: "1", what: "Worker processes on the one port (SO_REUSEPORT), joined over NATS; `auto`: one per core. Without `--nats` or `cluster.nats` a local nats-server is started if installed, else the start is refused. See docs/scaling.md, One machine, several workers." },
  { flag: "--admin-port N", def: "0 (a free one)", what: "With `--workers` above 1: the supervisor's `/health`, `/ready` and `/metrics` for all workers." },
  { env: "TICKGATE_WORKER", def: "unset", what: "Set by the `--workers` supervisor in each worker's environment (its index); not for people to set." },
  { env: "TICKGATE_URL", flag: "--url URL (pub, sub)", def: "`ws://127.0.0.1:8080/ws`", what: "Server that `tickgate pub` and `tickgate sub` talk to." },
  { env: "TICKGATE_TOKEN", flag: "--token T (pub, sub)", def: "none", what: "Bearer token for `pub` and `sub` when the server requires auth." },
];

/** Config-file keys the CLI turns into options by reading a file. */
export const CLI_FILE_KEYS = [
  { key: "auth.publicKeyFile", what: "Path of a PEM public key; the CLI reads it into `auth.publicKey`." },
  { key: "auth.jwksFile", what: "Path of a JWKS JSON document; the CLI reads it into `auth.jwks`." },
];

function valueAt(path: string[]): unknown {
  let v: unknown = defaultOptions();
  for (const k of path) v = v === undefined ? undefined : (v as Record<string, unknown>)[k];
  return v;
}

/**
 * The options' JSON Schema: the schema's input side, every field optional
 * (the server fills in defaults, shown as `default`), a policy rule's
 * `match` still required.
 */
export function configJsonSchema(): Json {
  const schema = z.toJSONSchema(OptionsSchema, { io: "input", unrepresentable: "any" }) as Json;
  const walk = (node: Json, path: string[], inArray: boolean) => {
    const props = node.properties as Record<string, Json> | undefined;
    if (props) {
      if (!inArray) delete node.required;
      for (const [k, child] of Object.entries(props)) {
        const p = [...path, k];
        const d = inArray ? undefined : valueAt(p);
        if (d !== undefined && (typeof d !== "object" || Array.isArray(d))) child.default = d;
        walk(child, p, inArray);
      }
    }
    if (node.items) walk(node.items as Json, path, true);
  };
  walk(schema, [], false);
  const auth = (schema.properties as Record<string, Json>).auth!.properties as Record<string, Json>;
  for (const f of CLI_FILE_KEYS) auth[f.key.slice("auth.".length)] = { type: "string", description: `${f.what} (tickgate serve only)` };
  (schema.properties as Record<string, Json>).$schema = { type: "string", description: "Where editors find this schema; the server ignores it." };
  return { ...schema, title: "tickgate server options", description: "Options of createServer()/serve() and of `tickgate serve --config FILE`. Reference: docs/config.md." };
}

function typeOf(node: Json): string {
  if (Array.isArray(node.anyOf)) return (node.anyOf as Json[]).map(typeOf).join(" \\| ");
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (Array.isArray(node.enum)) return node.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  if (node.type === "array") return `${typeOf((node.items ?? {}) as Json)}[]`;
  if (node.type === "integer") return "integer";
  if (typeof node.type === "string") return node.type;
  return "any";
}

function fmtDefault(v: unknown): string {
  if (v === undefined) return "unset";
  return `\`${JSON.stringify(v)}\``;
}

/** One row per option: path, type, default, env var and flag, meaning. */
export function optionRows(): { key: string; type: string; def: string; env: string; flag: string; what: string }[] {
  const envOf = new Map(Object.entries(OPTION_ENV).map(([env, key]) => [key, env]));
  const rows: ReturnType<typeof optionRows> = [];
  const walk = (node: Json, path: string, inArray: boolean, defaults: boolean) => {
    for (const [k, child] of Object.entries((node.properties ?? {}) as Record<string, Json>)) {
      if (k === "$schema") continue;
      const key = path ? `${path}.${k}` : k;
      const nested = child.type === "object" && child.properties;
      const items = child.type === "array" ? (child.items as Json | undefined) : undefined;
      if (!nested) {
        const def = defaults ? fmtDefault(valueAt(key.split("."))) : k === "match" ? "required" : "the default policy's";
        const flag = (OPTION_FLAGS as Record<string, string>)[key] ?? "";
        rows.push({ key, type: typeOf(child), def, env: envOf.get(key) ?? "", flag, what: String(child.description ?? "") });
      }
      if (nested) walk(child, key, inArray, defaults);
      if (items?.type === "object" && items.properties) walk(items, `${key}[]`, true, false);
    }
  };
  walk(z.toJSONSchema(OptionsSchema, { io: "input", unrepresentable: "any" }) as Json, "", false, true);
  return rows;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The generated part of docs/config.md (between its markers). */
export function configTables(): string {
  const opts = optionRows()
    .map((r) => `| \`${r.key}\` | ${r.type} | ${r.def} | ${[r.env && `\`${r.env}\``, r.flag && `\`${r.flag}\``].filter(Boolean).join("<br>")} | ${cell(r.what)} |`)
    .join("\n");
  const cli = CLI_SETTINGS.map((s) => `| ${s.env ? `\`${s.env}\`` : ""} | ${s.flag ? `\`${s.flag}\`` : ""} | ${s.def} | ${cell(s.what)} |`).join("\n");
  const files = CLI_FILE_KEYS.map((f) => `| \`${f.key}\` | ${cell(f.what)} |`).join("\n");
  return `### Server options

| Option | Type | Default | Environment / flag | Meaning |
|---|---|---|---|---|
${opts}

### Settings of the \`tickgate\` command

| Environment | Flag | Default | Meaning |
|---|---|---|---|
${cli}

### Config-file keys the command reads files for

| Key | Meaning |
|---|---|
${files}
`;
}
