/**
 * The module table from docs/architecture.md, checked mechanically: the core
 * and the protocol import no runtime, the client imports only the protocol,
 * and only src/adapter/ knows a runtime.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const SRC = join(import.meta.dir, "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+["']([^"']+)["']/g), ...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
}

/** The package a bare specifier names: `msgpackr/pack` → `msgpackr`, `@nats-io/kv/x` → `@nats-io/kv`; `node:` modules stay whole. */
function packageOf(spec: string): string {
  if (spec.startsWith("node:")) return spec;
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** Every top-level folder of src/ has a row; `cli` may import anything, so it has none. */
const RULES: Record<string, { packages: string[]; folders: string[] }> = {
  protocol: { packages: ["msgpackr", "zod"], folders: ["protocol"] },
  core: { packages: ["zod", "jose", "ipaddr.js"], folders: ["core", "protocol"] },
  client: { packages: ["msgpackr"], folders: ["client", "protocol"] },
  http: { packages: ["zod", "prom-client"], folders: ["http", "core", "protocol"] },
  adapter: { packages: ["bun", "node:path", "node:url"], folders: ["adapter", "core", "protocol", "http"] },
  demo: { packages: ["node:url"], folders: ["demo", "core", "client", "protocol"] },
  cluster: { packages: ["@nats-io/transport-node", "@nats-io/jetstream", "@nats-io/kv"], folders: ["cluster", "core", "protocol"] },
  legacy: { packages: [], folders: ["legacy", "core", "protocol"] },
};
const UNRULED = new Set(["cli"]);

describe("module boundaries", () => {
  for (const [folder, rule] of Object.entries(RULES)) {
    test(`src/${folder} imports only ${[...rule.folders, ...rule.packages].join(", ")}`, () => {
      for (const f of files(join(SRC, folder))) {
        for (const spec of imports(f)) {
          const where = `${relative(SRC, f)} imports '${spec}'`;
          if (spec.startsWith(".")) {
            const target = relative(SRC, join(f, "..", spec)).split("/")[0]!;
            expect(rule.folders, where).toContain(target);
          } else {
            expect(rule.packages, where).toContain(packageOf(spec));
          }
        }
      }
    });
  }

  test("every top-level folder of src/ has a rule", () => {
    const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    for (const f of folders) expect(f in RULES || UNRULED.has(f), `src/${f} has no row in RULES`).toBe(true);
    for (const f of Object.keys(RULES)) expect(folders, `RULES names src/${f}, which does not exist`).toContain(f);
  });

  test("nothing in the core mentions the Bun global", () => {
    for (const f of [...files(join(SRC, "core")), ...files(join(SRC, "protocol"))]) {
      expect(readFileSync(f, "utf8"), f).not.toMatch(/\bBun\./);
    }
  });
});
