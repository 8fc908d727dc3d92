#!/usr/bin/env node
/**
 * `npm run build`: compiles src/ into dist/ (ESM JavaScript and .d.ts) with
 * tsconfig.build.json, then makes the output stand on its own under plain
 * Node: relative `.ts` specifiers in declaration files become `.js` (the
 * compiler rewrites them in JavaScript only), and the CLI entry is made
 * executable. Then the remote bench (`tickgate bench --url`, bench/remote
 * and what it imports) into dist/bench with tsconfig.bench.json: JavaScript
 * only, for Node and Bun alike. Runs on Node alone, so `prepack` works
 * without Bun.
 * @module
 */
import { execFileSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
const tsPkg = createRequire(import.meta.url).resolve("typescript/package.json");
const tsc = join(tsPkg, "..", JSON.parse(readFileSync(tsPkg, "utf8")).bin.tsc);
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit", cwd: root });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.bench.json")], { stdio: "inherit", cwd: root });

// `from "./x.ts"`, `import("../y.ts")`: relative specifiers only; package names are left alone.
const SPECIFIER = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']+?)\.ts(["'])/g;
function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else yield p;
  }
}
for (const f of files(dist)) {
  if (!f.endsWith(".d.ts")) continue;
  const text = readFileSync(f, "utf8");
  const fixed = text.replace(SPECIFIER, "$1$2.js$3");
  if (fixed !== text) writeFileSync(f, fixed);
}
chmodSync(join(dist, "cli", "main.js"), 0o755);
