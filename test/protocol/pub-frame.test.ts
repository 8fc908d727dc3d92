/**
 * The hand-written `pub` check and reader (src/protocol/pub-frame.ts) held
 * to the zod schema they stand in for: the same verdict on any object, the
 * same frame when accepted, and through `decodeBinary` / `decodeText` the
 * same frame, payload, error code and message as the schema gives.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { DecodeError, decodeBinary, decodeText, packr, unpackr } from "../../src/protocol/codec.ts";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { DEFAULT_FRAME_CAPS } from "../../src/protocol/frame-caps.ts";
import { PublishFrame } from "../../src/protocol/frames.ts";
import { decodePubBinary, isPubFrame, pubFrameOf } from "../../src/protocol/pub-frame.ts";

const RUNS = 3000;

/** Strings around a limit: empty, at it, one past it, and non-ASCII. */
const strNear = (limit: number) =>
  fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.string({ minLength: limit - 1, maxLength: limit + 1 }),
    fc.string({ unit: "grapheme", maxLength: 12 }),
    fc.constant(""),
  );
/** Anything a decoded frame field could be. */
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.constant([]), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }));
const absent = fc.constant(undefined);
const idArb = fc.oneof(absent, strNear(64), fc.integer(), fc.maxSafeInteger(), fc.constant(2 ** 53), fc.constant(-(2 ** 53)), fc.double(), fc.constant(NaN), junk);
const tagArb = fc.oneof(strNear(64), junk);
const tagsArb = fc.oneof(absent, fc.array(tagArb, { maxLength: 4 }), fc.array(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 30, maxLength: 34 }), junk);
const dataArb = fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxKeys: 3 }), fc.array(fc.integer(), { maxLength: 4 }), fc.constant(null));

/** Objects shaped like `pub` frames, right and wrong in every field. */
const pubLike = fc.record(
  {
    t: fc.oneof(fc.constant("pub"), fc.constant("pubx"), fc.constant("sub"), junk),
    id: idArb,
    topic: fc.oneof(strNear(256), fc.string({ minLength: 1, maxLength: 20 }), junk, absent),
    key: fc.oneof(absent, strNear(128), junk),
    tags: tagsArb,
    data: dataArb,
    extra: fc.oneof(absent, fc.integer()),
  },
  { requiredKeys: ["t"] },
);

/** Drops keys whose value is undefined, as a decoder would never produce them. */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** What `decodeBinary` / `decodeText` said before the hand check: the schema's first issue. */
function schemaError(o: Record<string, unknown>): string {
  const r = PublishFrame.safeParse(o);
  if (r.success) throw new Error("accepted");
  const issue = r.error.issues[0]!;
  return `pub: ${issue.path.length ? issue.path.join(".") : "frame"}: ${issue.message}`;
}

describe("isPubFrame", () => {
  test("accepts exactly what the PublishFrame schema accepts, and returns what it returns", () => {
    fc.assert(
      fc.property(pubLike, (o) => {
        const r = PublishFrame.safeParse(o);
        expect(isPubFrame(o)).toBe(r.success);
        if (r.success) expect(pubFrameOf(o)).toEqual(r.data);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  test("boundaries: id 64 characters or a safe integer, topic 1–256, key 1–128, at most 32 tags of 1–64", () => {
    const base = { t: "pub", topic: "a", data: 1 };
    const cases: Record<string, unknown>[] = [
      base,
      { ...base, id: "x".repeat(64) },
      { ...base, id: "x".repeat(65) },
      { ...base, id: Number.MAX_SAFE_INTEGER },
      { ...base, id: Number.MAX_SAFE_INTEGER + 1 },
      { ...base, id: 1.5 },
      { ...base, topic: "" },
      { ...base, topic: "t".repeat(256) },
      { ...base, topic: "t".repeat(257) },
      { ...base, key: "" },
      { ...base, key: "k".repeat(128) },
      { ...base, key: "k".repeat(129) },
      { ...base, tags: [] },
      { ...base, tags: Array(32).fill("a") },
      { ...base, tags: Array(33).fill("a") },
      { ...base, tags: ["g".repeat(64)] },
      { ...base, tags: ["g".repeat(65)] },
      { ...base, tags: [""] },
      { ...base, tags: "a" },
      { ...base, key: null },
      { ...base, id: null },
    ];
    for (const o of cases) expect({ o, ok: isPubFrame(o) }).toEqual({ o, ok: PublishFrame.safeParse(o).success });
  });
});

describe("decodeBinary of pub frames", () => {
  test("same frame and payload bytes as the schema path, or the schema's error", () => {
    fc.assert(
      fc.property(pubLike, (o) => {
        const header = defined({ ...o, data: undefined });
        const withData = defined(o);
        const buf = packr.pack(withData);
        if (header.t !== "pub") return; // other types: not this reader's
        const valid = PublishFrame.safeParse({ ...header, data: undefined }).success;
        if (valid && !("data" in withData)) {
          expect(() => decodeBinary(buf)).toThrow(new DecodeError(ErrorCode.INVALID_FRAME, "pub: data: missing"));
        } else if (valid) {
          const d = decodeBinary(buf);
          expect(d.frame).toEqual(PublishFrame.parse({ ...header, data: undefined }));
          // The payload is data's bytes as sent: they decode to the value sent.
          expect(unpackr.unpack(d.payload!.raw!)).toEqual(withData.data);
        } else {
          let err: unknown;
          try {
            decodeBinary(buf);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(DecodeError);
          expect((err as DecodeError).code).toBe(ErrorCode.INVALID_FRAME);
          expect((err as DecodeError).message).toBe(schemaError({ ...header, data: undefined }));
        }
      }),
      { numRuns: RUNS },
    );
  });

  test("the reader takes plain frames (what clients send) and agrees with the general decoder", () => {
    const plain = fc.record(
      {
        id: fc.oneof(absent, fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.string({ maxLength: 64 })),
        topic: fc.string({ minLength: 1, maxLength: 256 }),
        key: fc.oneof(absent, fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }).filter((s) => s.length <= 128)),
        tags: fc.oneof(absent, fc.array(fc.string({ minLength: 1, maxLength: 64 }), { maxLength: 32 })),
        data: dataArb,
      },
      { requiredKeys: ["topic", "data"] },
    );
    fc.assert(
      fc.property(plain, (o) => {
        const buf = packr.pack(defined({ t: "pub", ...o }));
        const d = decodePubBinary(buf, DEFAULT_FRAME_CAPS.pub);
        expect(d).not.toBeNull();
        expect(d!.frame).toEqual(PublishFrame.parse({ ...defined({ t: "pub", ...o }), data: undefined }));
        expect(unpackr.unpack(d!.payload!.raw!)).toEqual(o.data);
      }),
      { numRuns: RUNS },
    );
  });

  test("topics read before come back the same, past the cache's bound and across topics of one length", () => {
    // 20,000 distinct topics of one length (more than the cache holds), each read three times, interleaved.
    const topics = Array.from({ length: 20_000 }, (_, i) => `t.${i.toString(36).padStart(4, "0")}`);
    for (let pass = 0; pass < 3; pass++) {
      for (let i = 0; i < topics.length; i += pass + 1) {
        const d = decodePubBinary(packr.pack({ t: "pub", topic: topics[i], data: i }), DEFAULT_FRAME_CAPS.pub);
        const topic = (d?.frame as { topic?: string } | undefined)?.topic;
        if (topic !== topics[i]) expect(topic).toBe(topics[i]!);
      }
    }
  });

  test("leaves the rest to the general path: unknown keys, duplicates, t not first, bad data, over the cap", () => {
    const ok = packr.pack({ t: "pub", topic: "a.b", data: 1 });
    expect(decodePubBinary(ok, DEFAULT_FRAME_CAPS.pub)).not.toBeNull();
    expect(decodePubBinary(packr.pack({ t: "pub", topic: "a.b", data: 1, x: 2 }), DEFAULT_FRAME_CAPS.pub)).toBeNull();
    expect(decodePubBinary(packr.pack({ topic: "a.b", t: "pub", data: 1 }), DEFAULT_FRAME_CAPS.pub)).toBeNull();
    expect(decodePubBinary(packr.pack({ t: "pub", topic: "a.b" }), DEFAULT_FRAME_CAPS.pub)).toBeNull();
    expect(decodePubBinary(ok, ok.length - 1)).toBeNull();
    // Two `topic` entries: msgpack allows it, the general path decides which wins.
    const dup = Uint8Array.from([0x84, 0xa1, 0x74, 0xa3, 0x70, 0x75, 0x62, 0xa5, ...Buffer.from("topic"), 0xa1, 0x61, 0xa5, ...Buffer.from("topic"), 0xa1, 0x62, 0xa4, ...Buffer.from("data"), 0x01]);
    expect(decodePubBinary(dup, DEFAULT_FRAME_CAPS.pub)).toBeNull();
    expect(decodeBinary(dup).frame).toMatchObject({ t: "pub", topic: "b" });
    // data with a reserved byte: refused by the general path, BAD_PAYLOAD as documented.
    const bad = Uint8Array.from([...ok.subarray(0, ok.length - 1), 0xc1]);
    expect(decodePubBinary(bad, DEFAULT_FRAME_CAPS.pub)).toBeNull();
    expect(() => decodeBinary(bad)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_PAYLOAD }));
    // A topic with invalid UTF-8: BAD_FRAME from the general path.
    const badUtf8 = Uint8Array.from([0x83, 0xa1, 0x74, 0xa3, 0x70, 0x75, 0x62, 0xa5, ...Buffer.from("topic"), 0xa2, 0xc3, 0x28, 0xa4, ...Buffer.from("data"), 0x01]);
    expect(decodePubBinary(badUtf8, DEFAULT_FRAME_CAPS.pub)).toBeNull();
    expect(() => decodeBinary(badUtf8)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_FRAME }));
  });
});

describe("decodeText of pub frames", () => {
  test("same frame as the schema, or the schema's error", () => {
    fc.assert(
      fc.property(pubLike, (o) => {
        const obj = defined(o);
        if (obj.t !== "pub" || typeof obj.data === "number" && !Number.isFinite(obj.data)) return;
        const text = JSON.stringify(obj);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        const r = PublishFrame.safeParse(parsed);
        if (r.success) {
          const d = decodeText(text);
          expect(d.frame).toEqual(r.data);
          expect(d.payload).toEqual({ value: parsed.data });
        } else expect(() => decodeText(text)).toThrow(new DecodeError(ErrorCode.INVALID_FRAME, schemaError(parsed)));
      }),
      { numRuns: RUNS },
    );
  });
});
