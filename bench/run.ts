/**
 * `bun run bench`: the benchmark suite's entry. Only the fan-out benchmark
 * exists so far; its flags are passed through.
 * @module
 */
import { fanout } from "./fanout.ts";

try {
  await fanout(process.argv.slice(2));
  process.exit(0);
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
}
