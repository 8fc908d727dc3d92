/**
 * Fan-out benchmark: 1 server-side publisher, N subscribers on one topic,
 * tickgate and every peer in PEERS (the bare `Bun.serve` loop, and others as
 * they land) in the same run, server and load client in separate processes
 * pinned to separate cores. The command line for one point; the code lives in
 * bench/lib/fanout.ts, which `bun run bench fanout` also builds on (variants,
 * targets).
 *
 *   bun bench/fanout.ts [--subs 1000] [--seconds 5] [--rate max|N] [--payload 100]
 *                       [--rounds 2] [--json out.json] [--quick]
 *                       [--warmup 1] [--batch 8] [--window 128] [--sample 16]
 *                       [--servers tickgate,bare,...] [--retries 2]
 *
 * `--rate` is publications per second (deliveries/s = rate × subs); `max`
 * publishes as fast as the flow-control window lets it. See docs/benchmarks.md.
 * @module
 */
import { fanout } from "./lib/fanout.ts";

try {
  await fanout(process.argv.slice(2));
  process.exit(0);
} catch (e) {
  console.error(`fanout: ${(e as Error).message}`);
  process.exit(1);
}
