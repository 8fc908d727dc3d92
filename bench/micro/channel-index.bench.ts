/**
 * The channel index (`ChannelIndex`): `match` runs once per publication to
 * find its channels; its per-topic cache makes a repeat topic one Map
 * lookup, a new topic a walk over every pattern. Sweeps the number of
 * pattern subscriptions (10 to 1,000) next to 100 exact topics.
 * @module
 */
import { bench, do_not_optimize, summary } from "mitata";
import { ChannelIndex } from "../../src/core/channel-index.ts";
import { parseOptions } from "../../src/core/options.ts";
import { PolicyTable } from "../../src/core/policy.ts";
import { sweep, type BenchState } from "./fixtures.ts";

/** 100 exact topics and `patterns` wildcard patterns, half of which match `feed.<n>.tick`. */
function index(patterns: number): ChannelIndex {
  const ix = new ChannelIndex(new PolicyTable(parseOptions({})));
  for (let i = 0; i < 100; i++) ix.getOrCreate(`feed.${i}.tick`);
  for (let i = 0; i < patterns; i++) ix.getOrCreate(i % 2 === 0 ? `feed.*.p${i}` : `other.${i}.>`);
  return ix;
}

summary(() => {
  bench("match cached topic ($patterns patterns)", function* (state: BenchState) {
    const ix = index(Number(state.get("patterns")));
    let i = 0;
    yield () => do_not_optimize(ix.match(`feed.${i++ % 100}.tick`));
  }).args("patterns", sweep([10, 100, 1000]));

  bench("match new topic ($patterns patterns)", function* (state: BenchState) {
    const ix = index(Number(state.get("patterns")));
    let i = 0;
    // Each call a topic not seen before: the cache misses and every pattern is tried.
    yield () => do_not_optimize(ix.match(`feed.${i++}.tick`));
  }).args("patterns", sweep([10, 100, 1000]));

  bench("subscribe and release a topic ($patterns patterns)", function* (state: BenchState) {
    const ix = index(Number(state.get("patterns")));
    let i = 0;
    yield () => ix.release(ix.getOrCreate(`feed.${i++ % 100}.quote`));
  }).args("patterns", sweep([10, 100, 1000]));
});
