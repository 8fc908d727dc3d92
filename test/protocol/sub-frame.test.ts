/**
 * Issue 17, item 2: a plain `sub` frame is checked by hand instead of by
 * zod (one per subscriber at connect). Whatever the frame, decoding must
 * give what the schema gives: the same frame, or INVALID_FRAME.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { DecodeError, decodeBinary, decodeText, packr, unpackr } from "../../src/protocol/codec.ts";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { SubscribeFrame } from "../../src/protocol/frames.ts";

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
  fc.integer(),
  fc.double(),
  fc.constant(2 ** 53),
  fc.constant(-0),
  fc.constant(null),
  fc.boolean(),
);
const topicValue = fc.oneof(fc.string({ minLength: 0, maxLength: 260 }), fc.constant("a".repeat(256)), fc.constant("a".repeat(257)), fc.integer(), fc.constant(null));
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
      { numRuns: 3000, seed: 17 },
    );
  });

  test("JSON: the hand check agrees with the schema on every frame (issue 17)", () => {
    fc.assert(
      fc.property(subLike, (frame) => {
        const text = JSON.stringify(frame);
        expect(decoded(() => decodeText(text))).toEqual(bySchema(JSON.parse(text)));
      }),
      { numRuns: 3000, seed: 17 },
    );
  });

  test("a plain sub keeps only t, id and topic, in that order (issue 17)", () => {
    expect(decodeBinary(packr.pack({ topic: "a.b", id: 7, t: "sub" })).frame).toEqual({ t: "sub", id: 7, topic: "a.b" });
    expect(Object.keys(decodeBinary(packr.pack({ topic: "a.b", t: "sub" })).frame)).toEqual(["t", "topic"]);
  });
});
