/**
 * Issue 17, item 2: a plain `sub` frame is read and checked by hand
 * instead of by msgpackr and zod (one per subscriber at connect). Whatever
 * the frame, decoding must give what the schema gives: the same frame, or
 * INVALID_FRAME.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { DecodeError, decodeBinary, decodeText, packr, unpackr } from "../../src/protocol/codec.ts";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { SubscribeFrame } from "../../src/protocol/frames.ts";
import { decodePlainSub } from "../../src/protocol/sub-frame.ts";

/** What the schema alone makes of a frame: its output, or the error code decoding must give. */
function bySchema(frame: Record<string, unknown>): unknown {
  const r = SubscribeFrame.safeParse(frame);
  return r.success ? r.data : ErrorCode.INVALID_FRAME;
}

function decoded(run: () => { frame: unknown }): unknown {
  try {
    return run().frame;
  } catch (e) {
    if (e instanceof DecodeError) return e.code;
    throw e;
  }
}

const idValue = fc.oneof(
  fc.string({ maxLength: 70 }),
  fc.string({ maxLength: 70, unit: "binary" }),
  fc.integer(),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.constantFrom(127, 128, 255, 256, 65535, 65536, -32, -33, -128, -129, -32768, -32769, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 32),
  fc.double(),
  fc.constant(2 ** 53),
  fc.constant(-0),
  fc.constant(null),
  fc.boolean(),
);
const topicValue = fc.oneof(fc.string({ minLength: 0, maxLength: 260 }), fc.string({ maxLength: 40, unit: "binary" }), fc.constant("a".repeat(256)), fc.constant("a".repeat(257)), fc.integer(), fc.constant(null));
const extra = fc.dictionary(fc.constantFrom("recover", "filter", "x", "data", "tags"), fc.oneof(fc.constant({ epoch: "e", seq: 1 }), fc.string(), fc.integer(), fc.constant(null)), { maxKeys: 2 });
const subLike = fc.record({ id: idValue, topic: topicValue }, { requiredKeys: [] }).chain((base) => extra.map((x) => ({ t: "sub", ...base, ...x })));

describe("plain sub frames (issue 17)", () => {
  test("msgpack: the hand check agrees with the schema on every frame (issue 17)", () => {
    fc.assert(
      fc.property(subLike, (frame) => {
        const bytes = packr.pack(frame);
        const got = decoded(() => decodeBinary(bytes));
        // A frame with `data` has it decoded back onto the frame after the check; compare the rest.
        if (typeof got === "object" && got !== null && "data" in frame) delete (got as Record<string, unknown>).data;
        const { data: _ignored, ...header } = unpackr.unpack(bytes) as Record<string, unknown>;
        expect(got).toEqual(bySchema(header));
      }),
      { numRuns: 1000, seed: 17 },
    );
  });

  test("JSON: the hand check agrees with the schema on every frame (issue 17)", () => {
    fc.assert(
      fc.property(subLike, (frame) => {
        const text = JSON.stringify(frame);
        expect(decoded(() => decodeText(text))).toEqual(bySchema(JSON.parse(text)));
      }),
      { numRuns: 1000, seed: 17 },
    );
  });

  test("the usual sub frames are read directly, without msgpackr (issue 17)", () => {
    for (const f of [{ t: "sub", topic: "bench.ticks", id: 1 }, { t: "sub", topic: "a" }, { id: "s-1", topic: "a.*", t: "sub" }, { t: "sub", id: 70_000, topic: "x.>" }, { t: "sub", id: -5, topic: "y" }]) {
      expect(decodePlainSub(packr.pack(f))).toEqual(SubscribeFrame.parse(f));
    }
    // Not plain: the general decoder's business.
    expect(decodePlainSub(packr.pack({ t: "sub", topic: "a", recover: { epoch: "e" } }))).toBeUndefined();
    expect(decodePlainSub(packr.pack({ t: "pub", topic: "a", data: 1 }))).toBeUndefined();
    expect(decodePlainSub(packr.pack({ t: "sub", topic: "é" }))).toBeUndefined();
  });

  test("a plain sub keeps only t, id and topic, in that order (issue 17)", () => {
    expect(decodeBinary(packr.pack({ topic: "a.b", id: 7, t: "sub" })).frame).toEqual({ t: "sub", id: 7, topic: "a.b" });
    expect(Object.keys(decodeBinary(packr.pack({ topic: "a.b", t: "sub" })).frame)).toEqual(["t", "topic"]);
  });
});
