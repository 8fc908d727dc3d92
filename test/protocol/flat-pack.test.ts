/**
 * Issue 17, item 2: the server's small control frames are written by
 * flat-pack.ts instead of msgpackr. Whatever it writes must be exactly
 * msgpackr's bytes; what it cannot write it must leave to msgpackr.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { encodeFrame, packr } from "../../src/protocol/codec.ts";
import { packFlat } from "../../src/protocol/flat-pack.ts";
import type { ServerFrame } from "../../src/protocol/frames.ts";

const scalar = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 10 },
  fc.string({ maxLength: 300, unit: "binary-ascii" }),
  fc.integer(),
  fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
  fc.constantFrom(0, -0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 1.5, NaN, Infinity, 1_765_000_000_123),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
/** What only msgpackr writes: non-ASCII text, undefined, arrays, bytes. */
const awkward = fc.oneof(fc.string({ minLength: 1, maxLength: 5, unit: "grapheme" }), fc.constant(undefined), fc.array(fc.integer(), { maxLength: 3 }), fc.constant(new Uint8Array([1, 2])));
const leaf = fc.dictionary(fc.string({ maxLength: 12 }), scalar, { maxKeys: 6 });
const frame = fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof({ arbitrary: scalar, weight: 20 }, { arbitrary: leaf, weight: 3 }, { arbitrary: awkward, weight: 1 }), { maxKeys: 17 });

describe("flat-pack (issue 17)", () => {
  test("writes exactly msgpackr's bytes, or leaves the frame to msgpackr (issue 17)", () => {
    let written = 0;
    fc.assert(
      fc.property(frame, (f) => {
        const ours = packFlat(f);
        if (ours === null) return;
        written++;
        expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(packr.pack(f)).toString("hex"));
      }),
      { numRuns: 1500, seed: 17 },
    );
    // A good part of the generated frames are flat enough to be written here.
    expect(written).toBeGreaterThan(300);
  });

  test("the connect-time frames are written here, the rest by msgpackr, the same either way (issue 17)", () => {
    const ack = { t: "ack", id: 1, seq: 0, epoch: "k2f9x.3", backlog: 0 } as ServerFrame;
    const recovered = { t: "ack", id: "s-1", seq: 9, epoch: "e", recovery: { ok: false, replayed: 2, reason: "window" }, backlog: 2 } as ServerFrame;
    const head = { t: "welcome", session: "0f3a6c9e-5d2b-4c1e-9a7f-123456789abc", ts: 1_765_000_000_123 };
    for (const f of [ack, recovered, head]) expect(packFlat(f)).not.toBeNull();
    for (const f of [{ t: "res", id: 1, data: [1, 2] }, { t: "error", code: "X", message: "é" }, { t: "x", v: undefined }, { t: "x", b: new Uint8Array(2) }]) expect(packFlat(f)).toBeNull();
    for (const f of [ack, recovered, head, { t: "res", id: 1, data: [1, 2] }]) expect(Buffer.from(encodeFrame(f as ServerFrame, false) as Uint8Array).toString("hex")).toBe(Buffer.from(packr.pack(f)).toString("hex"));
  });
});
