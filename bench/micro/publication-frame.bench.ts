/**
 * The publication frame writer (`encodePublicationMsgpack`): run once per
 * publication on the fan-out path, whatever the subscriber count. Payload
 * sizes sweep 64 B to 16 KiB; one variant adds a key and tags.
 * @module
 */
import { bench, do_not_optimize, summary } from "mitata";
import { encodePublicationMsgpack } from "../../src/protocol/publication-frame.ts";
import { bytes, SIZES, sweep, ticksPayload, type BenchState } from "./fixtures.ts";

const EPOCH = "0123456789ab";

summary(() => {
  bench("encode publication frame ($size)", function* (state: BenchState) {
    const raw = ticksPayload(bytes(String(state.get("size"))));
    let seq = 0;
    yield () => do_not_optimize(encodePublicationMsgpack({ topic: "market.spot.btc-usd", seq: ++seq, epoch: EPOCH, ts: 1_700_000_000_000 + seq }, raw));
  }).args("size", sweep(SIZES));

  bench("encode publication frame with key and tags ($size)", function* (state: BenchState) {
    const raw = ticksPayload(bytes(String(state.get("size"))));
    const tags = ["spot", "btc"];
    let seq = 0;
    yield () => do_not_optimize(encodePublicationMsgpack({ topic: "market.spot.btc-usd", seq: ++seq, epoch: EPOCH, ts: 1_700_000_000_000 + seq, key: "BTC-USD", tags }, raw));
  }).args("size", sweep(SIZES));
});
