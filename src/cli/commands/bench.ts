/**
 * `tickgate bench`: the benchmark, as its users run it.
 * - `--url ws://host:port/ws`: drives a running tickgate (bench/remote),
 *   in this process, on Node or Bun; shipped in the package as dist/bench.
 * - `compare A.json B.json`: judges two saved results, runs nothing.
 * - anything else, in a checkout: the local suite, bench/run.ts on Bun, in
 *   a child process with the same arguments; it exits with its code.
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UsageError, type Command } from "../command.ts";
import { findBun, runtime } from "../runtime.ts";

/** The local suite: bench/run.ts of a checkout (src/cli/commands is three folders down). */
const RUNNER = fileURLToPath(new URL("../../../bench/run.ts", import.meta.url));

/** The remote bench: built into dist/bench (the package), or its sources (a checkout, on Bun). */
const REMOTE = [
  fileURLToPath(new URL("../../bench/bench/remote/main.js", import.meta.url)),
  fileURLToPath(new URL("../../../bench/remote/main.ts", import.meta.url)),
];

interface RemoteModule {
  runRemote(argv: string[]): Promise<number>;
  remoteHelp(): string;
}

function remotePath(): string | undefined {
  return REMOTE.find((p) => existsSync(p) && (p.endsWith(".js") || runtime().name === "bun"));
}

async function loadRemote(): Promise<RemoteModule> {
  const p = remotePath();
  if (!p) throw new UsageError("the remote bench is missing from this installation (dist/bench); reinstall tickgate, or run 'npm run build' in a checkout");
  return (await import(pathToFileURL(p).href)) as RemoteModule;
}

const LOCAL_NOTE = `Exit codes are the same with and without --url (1 also: the server could not
be reached, or a scenario failed). Without --url or compare, in a checkout of
the repository, tickgate bench runs the local suite (bench/run.ts, on Bun):
servers it starts itself, pinned, compared with bare Bun and other peers.`;

async function help(): Promise<string> {
  const remote = await loadRemote();
  let local = "";
  // The local suite's flags, from its own definitions, where the suite is (a checkout, on Bun).
  if (runtime().name === "bun" && existsSync(RUNNER)) {
    const { helpText } = await import(pathToFileURL(fileURLToPath(new URL("../../../bench/lib/suite-args.ts", import.meta.url))).href);
    const { SCENARIOS } = await import(pathToFileURL(fileURLToPath(new URL("../../../bench/scenarios/index.ts", import.meta.url))).href);
    local = `\n\nThe local suite (tickgate bench without --url = bun run bench):\n\n${helpText(SCENARIOS)}`;
  } else local = "\n\nThe local suite (without --url) ships with the repository and runs on Bun: in a checkout,\n'npm run bench -- --help' lists its scenarios and flags.";
  return `tickgate bench — benchmark a running tickgate (--url), compare saved results, or run the local suite\n\nUsage:\n${remote.remoteHelp()}\n${LOCAL_NOTE}${local}\n`;
}

async function runLocal(argv: string[]): Promise<number> {
  if (!existsSync(RUNNER)) throw new UsageError("the local suite ships with the repository, not the package: give --url ws://host:port/ws to bench a running server, or run it from a checkout");
  // The suite is TypeScript on Bun, whatever runs this command.
  const bun = findBun();
  if (!bun) throw new UsageError("the local suite runs on Bun: install it ('npm install bun', or see bun.sh)");
  const child = spawn(bun, [RUNNER, ...argv], { stdio: "inherit" });
  // The terminal sends Ctrl-C to the whole process group; the child stops by itself.
  const ignore = () => {};
  process.on("SIGINT", ignore);
  try {
    return await new Promise<number>((resolve) => {
      child.once("error", (e) => {
        process.stderr.write(`tickgate: cannot start the benchmark: ${e.message}\n`);
        resolve(1);
      });
      child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    process.off("SIGINT", ignore);
  }
}

async function run(argv: string[]): Promise<number> {
  // compare is the same code (bench/lib/compare-cli.ts) here and in the local runner.
  const remote = argv[0] === "compare" || argv.some((a) => a === "--url" || a.startsWith("--url="));
  return remote ? (await loadRemote()).runRemote(argv) : runLocal(argv);
}

export const bench: Command = { name: "bench", summary: "benchmark a running server (--url), compare results, or run the local suite", help, run };
