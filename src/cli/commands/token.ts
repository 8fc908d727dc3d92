/**
 * `tickgate token`: mints a development token from the command line. There
 * is deliberately no HTTP endpoint that hands tokens out.
 * @module
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { importPKCS8 } from "jose";
import { mintToken, type TokenClaims } from "../../core/auth/mint.ts";
import { CLIENT_TYPES, type ClientType } from "../../protocol/frames.ts";
import { topicError } from "../../protocol/topic.ts";
import type { Command } from "../command.ts";

export const TOKEN_HELP = `tickgate token — mint a development JWT

Usage:
  tickgate token --sub ID [--client browser|api|device|mobile]
                 [--subscribe PATTERN]... [--publish PATTERN]... [--request PATTERN]... [--admin]
                 [--ttl 1h] [--aud AUD] [--iss ISS]
                 (--secret S | env TICKGATE_AUTH_SECRET | --key private.pem --alg RS256|ES256|EdDSA)

Patterns may be repeated or comma-separated and may use {claim} templates,
e.g. --publish 'devices.{sub}.>'. The token is printed on stdout.
Exit codes:
  0  ok
  2  bad usage (missing --sub, no key, bad pattern or duration)
`;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function seconds(ttl: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(ttl);
  if (!m) throw new Error(`--ttl: '${ttl}' is not a duration like 90s, 30m, 12h or 7d`);
  return Number(m[1]) * UNITS[m[2] || "s"]!;
}

function patterns(values: string[] | undefined, flag: string): string[] {
  const out = (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  for (const p of out) {
    const bad = topicError(p.replace(/\{[A-Za-z0-9_]+\}/g, "x"), true);
    if (bad) throw new Error(`${flag}: '${p}': ${bad}`);
  }
  return out;
}

export async function tokenCommand(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        sub: { type: "string" },
        client: { type: "string" },
        subscribe: { type: "string", multiple: true },
        publish: { type: "string", multiple: true },
        request: { type: "string", multiple: true },
        admin: { type: "boolean" },
        ttl: { type: "string", default: "1h" },
        aud: { type: "string" },
        iss: { type: "string" },
        secret: { type: "string" },
        key: { type: "string" },
        alg: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    process.stderr.write(`tickgate token: ${(e as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(TOKEN_HELP);
    return 0;
  }
  try {
    if (!values.sub) throw new Error("--sub is required");
    if (values.client && !(CLIENT_TYPES as readonly string[]).includes(values.client)) throw new Error(`--client must be one of ${CLIENT_TYPES.join(", ")}`);
    const claims: TokenClaims = {
      sub: values.sub,
      subscribe: patterns(values.subscribe, "--subscribe"),
      publish: patterns(values.publish, "--publish"),
      request: patterns(values.request, "--request"),
      admin: values.admin ?? false,
      ttlSec: seconds(values.ttl!),
      ...(values.client ? { client: values.client as ClientType } : {}),
      ...(values.aud ? { audience: values.aud } : {}),
      ...(values.iss ? { issuer: values.iss } : {}),
    };
    let token: string;
    if (values.key) {
      const alg = values.alg ?? "RS256";
      if (alg !== "RS256" && alg !== "ES256" && alg !== "EdDSA") throw new Error("--alg must be RS256, ES256 or EdDSA");
      token = await mintToken(claims, await importPKCS8(readFileSync(values.key, "utf8"), alg), alg);
    } else {
      const secret = values.secret ?? env.TICKGATE_AUTH_SECRET;
      if (!secret) throw new Error("give --secret, TICKGATE_AUTH_SECRET, or --key");
      token = await mintToken(claims, secret);
    }
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`tickgate token: ${(e as Error).message}\n`);
    return 2;
  }
}

export const token: Command = {
  name: "token",
  summary: "mint a development token (there is no endpoint that hands tokens out)",
  help: TOKEN_HELP,
  run: (argv) => tokenCommand(argv),
};
