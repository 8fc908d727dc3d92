/**
 * The package as a stranger gets it: `npm pack` (whose `prepack` builds
 * dist/) once per test process, and blank projects that install the tarball
 * offline, from the tarball and the local npm cache only.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "../helpers/spawn.ts";

/** A PATH with Node and npm but no Bun, as on a machine that has only Node. */
export const NODE_ONLY_PATH = [dirname(Bun.which("node") ?? "/usr/bin/node"), "/usr/bin", "/bin"].join(":");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (bounded: `timeoutMs`, then killed). */
export function run(file: string, args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

let packed: Promise<string> | undefined;

/** Path of the tarball `npm pack` makes of this checkout (built once per process). */
export function tarball(): Promise<string> {
  packed ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "tickgate-pack-"));
    const r = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: ROOT, timeoutMs: 180_000 });
    if (r.code !== 0) throw new Error(`npm pack failed: ${r.stderr}`);
    const [info] = JSON.parse(r.stdout) as { filename: string }[];
    return join(dir, info!.filename);
  })();
  return packed;
}

export interface Project extends Disposable {
  dir: string;
  /** Writes a file into the project. */
  write(path: string, text: string): string;
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  [k: string]: unknown;
}

/**
 * A lock file for a blank project that depends on the tarball and on
 * `extra` (packages of this repository's lock, e.g. `ws`): every entry the
 * tarball's dependencies need comes from this repository's lock, so `npm ci
 * --offline` finds each tarball in the cache `npm ci` filled here, without
 * asking a registry for package lists.
 */
function lockFor(name: string, tgz: string, extra: string[], registry: string): { pkg: object; lock: object } {
  const own = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const ours = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")).packages as Record<string, LockEntry>;
  const packages: Record<string, LockEntry> = {};
  // Production entries (no "dev" flag) are exactly what the package's dependencies pull in.
  for (const [path, e] of Object.entries(ours)) if (path !== "" && !e.dev) packages[path] = { ...e };
  const want = [...extra];
  for (let dep = want.shift(); dep !== undefined; dep = want.shift()) {
    const path = `node_modules/${dep}`;
    if (!ours[path]) throw new Error(`${dep} is not in package-lock.json`);
    if (packages[path] && !packages[path]!.dev) continue;
    // The package and whatever is nested under it (versions its dependencies need instead of the hoisted ones).
    for (const [p, e] of Object.entries(ours)) {
      if (p !== path && !p.startsWith(`${path}/node_modules/`)) continue;
      packages[p] = { ...e, dev: undefined };
      want.push(...Object.keys(e.dependencies ?? {}));
    }
  }
  const file = `file:${tgz}`;
  const deps = { tickgate: file, ...Object.fromEntries(extra.map((d) => [d, ours[`node_modules/${d}`]!.version!])) };
  // This repository's lock omits tarball URLs; with the standard URL of each, npm fetches no package list.
  for (const [path, e] of Object.entries(packages)) {
    if (e.resolved || e.link || e.version === undefined) continue;
    const dep = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    e.resolved = `${registry}${dep}/-/${dep.split("/").pop()}-${e.version}.tgz`;
  }
  packages[""] = { name: `blank-${name}`, dependencies: deps };
  packages["node_modules/tickgate"] = { version: own.version, resolved: file, license: own.license, dependencies: own.dependencies, peerDependencies: own.peerDependencies, peerDependenciesMeta: own.peerDependenciesMeta, bin: own.bin, engines: own.engines };
  const pkg = { name: `blank-${name}`, private: true, type: "module", dependencies: deps };
  return { pkg, lock: { name: `blank-${name}`, lockfileVersion: 3, requires: true, packages: JSON.parse(JSON.stringify(packages)) } };
}

/** A blank ESM project with the tarball and `extra` packages installed offline. */
export async function blankProject(name: string, extra: string[] = []): Promise<Project> {
  const dir = mkdtempSync(join(tmpdir(), `tickgate-${name}-`));
  const registry = (await run("npm", ["config", "get", "registry"], { cwd: ROOT })).stdout.trim().replace(/\/?$/, "/");
  const { pkg, lock } = lockFor(name, await tarball(), extra, registry);
  writeFileSync(join(dir, "package.json"), JSON.stringify(pkg, null, 2));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify(lock, null, 2));
  const r = await run("npm", ["ci", "--offline", "--no-audit", "--no-fund"], { cwd: dir, timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`offline install into ${dir} failed: ${r.stderr}`);
  return {
    dir,
    write(path, text) {
      const file = join(dir, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      return file;
    },
    [Symbol.dispose]() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
