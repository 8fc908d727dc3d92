/**
 * The package as a stranger gets it: `npm pack` (whose `prepack` builds
 * dist/) once per test process, and blank projects that install the tarball
 * offline, from the tarball and the local npm cache only.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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

/** A blank ESM project with `packages` (the tarball among them) installed offline. */
export async function blankProject(name: string, packages: string[]): Promise<Project> {
  const dir = mkdtempSync(join(tmpdir(), `tickgate-${name}-`));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `blank-${name}`, private: true, type: "module" }, null, 2));
  const r = await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", ...packages], { cwd: dir, timeoutMs: 180_000 });
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
