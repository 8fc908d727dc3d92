/**
 * The msgpack scanner (`assertOneValue`, `skipValue`): every binary frame a
 * client sends is scanned once before its payload is carried on untouched.
 * Frames sweep 64 B to 16 KiB; the non-ASCII variant takes the scanner's
 * UTF-8 check on every string.
 * @module
 */
import { bench, do_not_optimize, summary } from "mitata";
import { assertOneValue, skipValue } from "../../src/protocol/msgpack-scan.ts";
import { bytes, pubFrame, SIZES, sweep, ticksPayload, type BenchState } from "./fixtures.ts";

summary(() => {
  bench("scan publish frame ($size)", function* (state: BenchState) {
    const frame = pubFrame(bytes(String(state.get("size"))));
    yield () => assertOneValue(frame);
  }).args("size", sweep(SIZES));

  bench("scan publish frame, non-ASCII strings ($size)", function* (state: BenchState) {
    const frame = pubFrame(bytes(String(state.get("size"))), "BTC–USD €");
    yield () => assertOneValue(frame);
  }).args("size", sweep(SIZES));

  bench("skip payload value ($size)", function* (state: BenchState) {
    const payload = ticksPayload(bytes(String(state.get("size"))));
    yield () => do_not_optimize(skipValue(payload, 0));
  }).args("size", sweep(SIZES));
});
