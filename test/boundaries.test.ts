/**
 * The module table from STYLE.md, checked mechanically: the core and the
 * protocol import no runtime, the client imports only the protocol.
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

const RULES: Record<string, { packages: string[]; folders: string[] }> = {
  protocol: { packages: ["msgpackr", "zod"], folders: ["protocol"] },
  core: { packages: ["zod", "jose"], folders: ["core", "protocol"] },
  client: { packages: ["msgpackr"], folders: ["client", "protocol"] },
  cluster: { packages: ["nats"], folders: ["cluster", "core", "protocol"] },
  http: { packages: ["zod", "prom-client"], folders: ["http", "core", "protocol"] },
};

describe("module boundaries", () => {
  for (const [folder, rule] of Object.entries(RULES)) {
    test(`src/${folder} imports only ${[...rule.folders, ...rule.packages].join(", ")}`, () => {
      let dir: string[] = [];
      try {
        dir = files(join(SRC, folder));
      } catch {
        return; // folder not written yet
      }
      for (const f of dir) {
        for (const spec of imports(f)) {
          const where = `${relative(SRC, f)} imports '${spec}'`;
          if (spec.startsWith(".")) {
            const target = relative(SRC, join(f, "..", spec)).split("/")[0]!;
            expect(rule.folders, where).toContain(target);
          } else {
            expect(rule.packages, where).toContain(spec);
          }
        }
      }
    });
  }

  test("nothing in the core mentions the Bun global", () => {
    for (const f of [...files(join(SRC, "core")), ...files(join(SRC, "protocol"))]) {
      expect(readFileSync(f, "utf8"), f).not.toMatch(/\bBun\./);
    }
  });
});
