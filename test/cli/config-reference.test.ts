/**
 * One configuration reference: config.schema.json and docs/config.md are
 * what the schema generates, and every environment variable and flag the
 * CLI knows is documented there, in `serve --help` and in the README.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_FILE_KEYS, OPTION_ENV } from "../../src/cli/config-reference.ts";
import { parseOptions } from "../../src/core/options.ts";
import { HELP } from "../../src/cli/commands/serve.ts";
import { docText, schemaText } from "../../scripts/gen-config.ts";
import { ROOT } from "../helpers/spawn.ts";

const read = (...p: string[]) => readFileSync(join(ROOT, ...p), "utf8");
const names = (text: string) => new Set(text.match(/TICKGATE_[A-Z_]+/g) ?? []);
const CONFIG_MD = read("docs", "config.md");

function cliSources(dir = join(ROOT, "src", "cli")): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((e) => (e.isDirectory() ? cliSources(join(dir, e.name)) : e.name.endsWith(".ts") && e.name !== "config-reference.ts" ? readFileSync(join(dir, e.name), "utf8") : ""))
    .join("\n");
}

describe("configuration reference", () => {
  test("config.schema.json and docs/config.md are generated from the schema (npm run gen:config)", () => {
    expect(read("config.schema.json")).toBe(schemaText());
    expect(CONFIG_MD).toBe(docText(CONFIG_MD));
  });

  test("every environment variable the CLI reads is in docs/config.md", () => {
    const used = names(cliSources());
    expect(used.size).toBeGreaterThan(8);
    for (const n of used) expect(CONFIG_MD).toContain(`\`${n}\``);
  });

  test("serve --help names the same environment variables as docs/config.md's server rows", () => {
    const help = names(HELP);
    for (const n of Object.keys(OPTION_ENV)) expect(help).toContain(n);
    for (const n of help) expect(CONFIG_MD).toContain(`\`${n}\``);
  });

  test("every serve flag in --help is in docs/config.md", () => {
    const flags = new Set([...HELP.matchAll(/^\s+(--[a-z-]+)/gm)].map((m) => m[1]!));
    flags.delete("--help");
    expect(flags.size).toBeGreaterThan(6);
    for (const f of flags) expect(CONFIG_MD).toContain(f);
  });

  test("the README's Configure section lists exactly the server's environment variables", () => {
    const readme = read("README.md");
    const section = readme.slice(readme.indexOf("## Configure"), readme.indexOf("\n## ", readme.indexOf("## Configure") + 3));
    const listed = names(section);
    listed.delete("TICKGATE_CONFIG");
    listed.delete("TICKGATE_DEMO");
    expect([...listed].sort()).toEqual(Object.keys(OPTION_ENV).sort());
    expect(section).toContain("docs/config.md");
  });

  test("the JSON config examples in docs/config.md and docs/deploy.md are valid options", () => {
    const blocks = ["config.md", "deploy.md"].flatMap((f) => [...read("docs", f).matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as Record<string, any>));
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const b of blocks) {
      delete b.$schema;
      // Keys the command turns into options by reading a file; the file itself is not here.
      for (const { key } of CLI_FILE_KEYS) {
        const [, field] = key.split(".");
        if (b.auth && field! in b.auth) {
          delete b.auth[field!];
          b.auth.secret = "x".repeat(32);
        }
      }
      expect(() => parseOptions(b)).not.toThrow();
    }
  });

  test("every environment variable and option docs/deploy.md names exists", () => {
    const deploy = read("docs", "deploy.md");
    for (const n of names(deploy)) expect(CONFIG_MD).toContain(`\`${n}\``);
    for (const key of ["trustedProxies", "forwardedHeader", "limits.maxConnectionsPerIp", "limits.allowedOrigins", "shutdownGraceMs", "idleTimeoutSec", "auth.required"]) {
      expect(deploy).toContain(key.split(".").pop()!);
      expect(CONFIG_MD).toContain(`| \`${key}\` |`);
    }
  });
});
