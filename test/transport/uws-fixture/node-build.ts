/**
 * Builds a TypeScript entry into one ES module that Node 20 runs, with
 * Bun's bundler: packages stay external (resolved from this repository's
 * node_modules, so uWebSockets.js loads its native build), and `bun:test`
 * is pointed at a node:test shim so shared case files run unchanged.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..", "..");
/** Inside node_modules so Node resolves the external packages from the repository's install. */
export const NODE_BUILD_DIR = join(ROOT, "node_modules", ".cache", "tickgate-node");

export async function buildForNode(entry: string, name: string): Promise<string> {
  const outdir = join(NODE_BUILD_DIR, name);
  mkdirSync(outdir, { recursive: true });
  const result = await Bun.build({
    entrypoints: [entry],
    outdir,
    target: "node",
    format: "esm",
    packages: "external",
    naming: "[name].mjs",
    plugins: [
      {
        name: "bun-test-on-node",
        setup(b) {
          b.onResolve({ filter: /^bun:test$/ }, () => ({ path: join(import.meta.dir, "bun-test-shim.ts") }));
        },
      },
    ],
  });
  if (!result.success) throw new Error(`node build of ${entry} failed: ${result.logs.map(String).join("; ")}`);
  return result.outputs.find((o) => o.kind === "entry-point")!.path;
}
