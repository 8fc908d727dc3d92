/**
 * `tickgate bench [args...]`: runs the benchmark suite (bench/run.ts) in a
 * child process with the same arguments, and exits with its code.
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CommandFailed, EXIT_CODES_HELP, type Command } from "../command.ts";
import { findBun } from "../runtime.ts";

/** bench/run.ts of the checkout (src/cli/commands or dist/cli/commands is three folders down). */
const RUNNER = fileURLToPath(new URL("../../../bench/run.ts", import.meta.url));

const HELP = `tickgate bench — run the fan-out benchmark (bench/run.ts)

Usage:
  tickgate bench [--quick] [--subs N] [--seconds S] [--rate max|N] [--payload BYTES]
                 [--rounds N] [--json FILE] [--servers tickgate,bare] [...]

Every argument is passed to bench/run.ts unchanged; see docs/benchmarks.md
for the flags and what they measure (--list names the scenarios). The
benchmarks ship with the repository, not with the package, and run on Bun
(found beside tickgate or on PATH) even when this command runs on Node.

${EXIT_CODES_HELP}
  (with bench, 1 also means the benchmark itself failed or a flag was wrong)
`;

async function run(argv: string[]): Promise<number> {
  if (!existsSync(RUNNER)) throw new CommandFailed(`${RUNNER} not found; run tickgate bench from a checkout of the repository`);
  // The benchmarks are TypeScript on Bun, whatever runs this command.
  const bun = findBun();
  if (!bun) throw new CommandFailed("the benchmarks run on Bun: install it ('npm install bun', or see bun.sh)");
  const child = spawn(bun, [RUNNER, ...argv], { stdio: "inherit" });
  // The terminal sends Ctrl-C to the whole process group; the child stops by itself.
  const ignore = () => {};
  process.on("SIGINT", ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once("error", (e) => reject(new CommandFailed(`cannot start the benchmark: ${e.message}`)));
      child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    process.off("SIGINT", ignore);
  }
}

export const bench: Command = { name: "bench", summary: "run the fan-out benchmark (arguments go to bench/run.ts)", help: HELP, run };
