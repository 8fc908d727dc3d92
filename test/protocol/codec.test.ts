/**
 * Frame decoding and publication encoding, in both encodings.
 */
import { DEFAULT_FRAME_CAPS } from "../../src/protocol/frame-caps.ts";
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  DecodeError,
  decodeBinary,
  decodeText,
  encodePublicationJson,
  encodePublicationMsgpack,
  packr,
  unpackr,
  type PublicationHeader,
} from "../../src/protocol/codec.ts";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { CLIENT_TYPES, clientFrameSchemas } from "../../src/protocol/frames.ts";
import { MAX_DEPTH, assertOneValue } from "../../src/protocol/msgpack-scan.ts";

const te = new TextEncoder();

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function mapHeader(n: number): number[] {
  if (n < 16) return [0x80 | n];
  if (n < 65536) return [0xde, n >> 8, n & 0xff];
  return [0xdf, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/** A msgpack map built from already-encoded values, in the given order. */
function rawMap(entries: [string | Uint8Array, Uint8Array][]): Uint8Array {
  return concat(mapHeader(entries.length), ...entries.flatMap(([k, v]) => [typeof k === "string" ? packr.pack(k) : k, v]));
}

const enc = (v: unknown) => new Uint8Array(packr.pack(v));

/** The DecodeError `f` throws; fails on any other outcome. */
function decodeError(f: () => unknown): DecodeError {
  try {
    f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw new Error(`expected DecodeError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  throw new Error("expected DecodeError, but the frame was accepted");
}

// ---- generators ----

const idArb = fc.oneof(
  fc.string({ unit: "binary", maxLength: 64 }).filter((s) => s.length <= 64),
  fc.maxSafeInteger(),
  fc.integer(),
);
const topicArb = fc.string({ unit: "binary", minLength: 1, maxLength: 256 }).filter((s) => s.length >= 1 && s.length <= 256);
const shortStr = (max: number, min = 0) => fc.string({ unit: "binary", minLength: min, maxLength: max }).filter((s) => s.length >= min && s.length <= max);

/** Values msgpackr packs and unpackr gives back equal (no bigint: int64 comes back as number). */
const msgpackValue = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 100 }),
  ),
  value: fc.oneof({ depthSize: "small", maxDepth: 4, depthIdentifier: "mv" }, tie("leaf"), tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 8, depthIdentifier: "mv" }),
  object: fc.dictionary(fc.string({ unit: "binary", maxLength: 10 }), tie("value"), { maxKeys: 8, depthIdentifier: "mv", noNullPrototype: true }),
})).value;

// msgpackr decodes a "__proto__" key as "__proto_" (on purpose), so meta keys avoid it.
const metaArb = fc.dictionary(
  shortStr(64).filter((k) => k !== "__proto__"),
  // -0 packs as the integer 0 (msgpack has no negative-zero integer), so it cannot round-trip.
  fc.oneof(shortStr(256), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)), fc.boolean()),
  { maxKeys: 6, noNullPrototype: true },
);

type Obj = Record<string, unknown>;
const opt = <T,>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const clean = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** One valid client frame of every type; `data` values are msgpack-friendly. */
function clientFrame(data: fc.Arbitrary<unknown>): fc.Arbitrary<Obj> {
  return fc.oneof(
    fc.record({ t: fc.constant("sub"), id: opt(idArb), topic: topicArb }),
    fc.record({ t: fc.constant("unsub"), id: opt(idArb), topic: topicArb }),
    fc.record({ t: fc.constant("pub"), id: opt(idArb), topic: topicArb, key: opt(shortStr(128, 1)), data }),
    fc.record({ t: fc.constant("ping"), id: opt(idArb) }),
    fc.record({ t: fc.constant("stats"), id: opt(idArb) }),
    fc.record({ t: fc.constant("req"), id: idArb, method: shortStr(128, 1), data: opt(data) }),
    fc.record({ t: fc.constant("hello"), id: opt(idArb), client: fc.constantFrom(...CLIENT_TYPES), meta: opt(metaArb) }),
  ).map(clean);
}

describe("decodeBinary / decodeText: every client frame type", () => {
  test("msgpack: each type decodes to the same frame; pub data is carried as the exact packed bytes", () => {
    fc.assert(
      fc.property(clientFrame(msgpackValue), (f) => {
        const d = decodeBinary(enc(f));
        const { data, ...rest } = f;
        const { data: decodedData, ...frameRest } = d.frame as Obj;
        expect(frameRest).toEqual(rest);
        if (f.t === "pub") {
          expect(d.payload?.raw).toEqual(enc(data));
          expect(decodedData).toBeUndefined();
        } else {
          expect(d.payload).toBeUndefined();
        }
        if (f.t === "req") expect(decodedData).toEqual("data" in f ? unpackr.unpack(enc(data)) : undefined);
        else if (f.t !== "pub") expect(decodedData).toBeUndefined();
      }),
      { numRuns: 1500 },
    );
  });

  test("json: each type decodes to the same frame; pub data is carried as a value", () => {
    fc.assert(
      fc.property(clientFrame(fc.jsonValue()), (f) => {
        const text = JSON.stringify(f);
        const d = decodeText(text);
        const expected = JSON.parse(text) as Obj;
        expect(d.frame).toEqual(expected as never);
        if (f.t === "pub") {
          expect(d.payload).toBeDefined();
          expect("value" in d.payload!).toBe(true);
          expect(d.payload!.value).toEqual(expected.data);
          expect(d.payload!.raw).toBeUndefined();
        } else expect(d.payload).toBeUndefined();
      }),
      { numRuns: 1500 },
    );
  });

  test("examples of each type", () => {
    const frames: Obj[] = [
      { t: "sub", id: "s1", topic: "prices.>" },
      { t: "unsub", id: 2, topic: "prices.>" },
      { t: "pub", id: "p", topic: "prices.BTC-USD", key: "BTC-USD", data: { bid: 64000.5, ask: 64001 } },
      { t: "pub", topic: "a", data: null },
      { t: "ping" },
      { t: "ping", id: 0 },
      { t: "stats", id: "st" },
      { t: "req", id: "r", method: "echo", data: [1, "two", { three: 3 }] },
      { t: "req", id: 9, method: "now" },
      { t: "hello", client: "device", meta: { fw: "1.2.3", battery: 87, charging: false } },
    ];
    for (const f of frames) {
      const b = decodeBinary(enc(f));
      const j = decodeText(JSON.stringify(f));
      expect(b.frame.t).toBe(f.t as never);
      expect(j.frame.t).toBe(f.t as never);
      expect(b.frame.id).toBe(f.id as never);
      expect(j.frame.id).toBe(f.id as never);
      if (f.t === "pub") {
        expect(unpackr.unpack(b.payload!.raw!)).toEqual(f.data);
        expect(j.payload!.value).toEqual(f.data);
      }
    }
  });
});

describe("decodeBinary: pub payload bytes are exact, wherever `data` sits", () => {
  /** Encodings of data values, some non-minimal, some msgpackr never emits (ext, str32 for a short string). */
  const rawData = fc.oneof(
    msgpackValue.map(enc),
    fc.constantFrom(
      Uint8Array.of(0xcf, 0, 0, 0, 0, 0, 0, 0, 1), // uint64 1
      Uint8Array.of(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // int64 -1
      Uint8Array.of(0xdb, 0, 0, 0, 2, 0x68, 0x69), // str32 "hi"
      Uint8Array.of(0xdc, 0, 1, 0xc3), // array16 [true]
      Uint8Array.of(0xde, 0, 1, 0xa1, 0x6b, 0xc0), // map16 {k: null}
      Uint8Array.of(0xca, 0x3f, 0x80, 0, 0), // float32 1.0
      Uint8Array.of(0xd6, 0xff, 0, 0, 0, 1), // timestamp 32
      Uint8Array.of(0xc7, 12, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), // ext8 timestamp 96
      Uint8Array.of(0x90), // []
      Uint8Array.of(0x80), // {}
      enc({ data: { data: "data" } }), // a data key inside data
    ),
  );

  test("data first, middle or last (and among 16+ keys): payload.raw is the data bytes, the rest decodes", () => {
    fc.assert(
      fc.property(
        rawData,
        fc.constantFrom("first", "middle", "last"),
        opt(idArb),
        opt(shortStr(128, 1)),
        fc.integer({ min: 0, max: 20 }),
        fc.boolean(),
        (raw, where, id, key, extras, str8Key) => {
          const head: [string, Uint8Array][] = [
            ["t", enc("pub")],
            ["topic", enc("prices.BTC-USD")],
            ...(id === undefined ? [] : ([["id", enc(id)]] as [string, Uint8Array][])),
            ...(key === undefined ? [] : ([["key", enc(key)]] as [string, Uint8Array][])),
            ...Array.from({ length: extras }, (_, i) => [`x${i}`, enc(i)] as [string, Uint8Array]),
          ];
          const dataKey = str8Key ? Uint8Array.of(0xd9, 4, 0x64, 0x61, 0x74, 0x61) : "data";
          const at = where === "first" ? 0 : where === "last" ? head.length : Math.floor(head.length / 2) || 1;
          const entries: [string | Uint8Array, Uint8Array][] = [...head.slice(0, at), [dataKey, raw], ...head.slice(at)];
          const buf = rawMap(entries);
          const d = decodeBinary(buf);
          // Exactly the data value's bytes: a view into the frame, or for a plain pub frame (pub-frame.ts) a copy of them.
          expect(d.payload?.raw).toEqual(raw);
          expect(d.frame).toEqual(clean({ t: "pub", topic: "prices.BTC-USD", id, key }) as never);
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe("encodePublicationMsgpack", () => {
  const headerArb: fc.Arbitrary<PublicationHeader> = fc.record({
    topic: topicArb,
    seq: fc.oneof(fc.nat(), fc.maxSafeNat()),
    epoch: shortStr(24),
    ts: fc.oneof(fc.nat(), fc.integer({ min: 1.6e12, max: 2.2e12 })),
    key: opt(shortStr(128, 1)),
  });

  test("decodes to the publication, and its tail is exactly the raw payload after a 'data' key", () => {
    fc.assert(
      fc.property(headerArb, msgpackValue, (h, v) => {
        const raw = enc(v);
        const out = encodePublicationMsgpack(h, raw);
        assertOneValue(out);
        const decoded = unpackr.unpack(out);
        expect(decoded).toEqual(clean({ t: "msg", topic: h.topic, seq: h.seq, epoch: h.epoch, ts: h.ts, key: h.key, data: unpackr.unpack(raw) }) as never);
        expect(Object.keys(decoded)).toEqual(h.key === undefined ? ["t", "topic", "seq", "epoch", "ts", "data"] : ["t", "topic", "seq", "epoch", "ts", "key", "data"]);
        expect(out.subarray(out.length - raw.length)).toEqual(raw);
        expect(out.subarray(out.length - raw.length - 5, out.length - raw.length)).toEqual(Uint8Array.of(0xa4, 0x64, 0x61, 0x74, 0x61));
        // The JSON flavour carries the same publication.
        expect(JSON.parse(encodePublicationJson(h, v === undefined ? null : JSON.parse(JSON.stringify({ v })).v))).toMatchObject(
          clean({ t: "msg", topic: h.topic, seq: h.seq, epoch: h.epoch, ts: h.ts, key: h.key }),
        );
      }),
      { numRuns: 1500 },
    );
  });

  test("raw bytes are spliced untouched, even non-minimal encodings", () => {
    const raw = Uint8Array.of(0xcf, 0, 0, 0, 0, 0, 0, 0, 7);
    const out = encodePublicationMsgpack({ topic: "a", seq: 1, epoch: "e", ts: 5 }, raw);
    expect(out.subarray(out.length - raw.length)).toEqual(raw);
    expect(unpackr.unpack(out)).toEqual({ t: "msg", topic: "a", seq: 1, epoch: "e", ts: 5, data: 7 });
  });

  test("a binary pub's payload goes out byte for byte in the publication frame", () => {
    fc.assert(
      fc.property(msgpackValue, (v) => {
        const d = decodeBinary(enc({ t: "pub", data: v, topic: "a.b", id: 1 }));
        const out = encodePublicationMsgpack({ topic: "a.b", seq: 3, epoch: "ep", ts: 9 }, d.payload!.raw!);
        expect(out.subarray(out.length - d.payload!.raw!.length)).toEqual(enc(v));
      }),
      { numRuns: 300 },
    );
  });
});

describe("DecodeError codes", () => {
  test("BAD_FRAME (msgpack): not msgpack, not a map, truncated, trailing bytes, malformed header value", () => {
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.of(0xc1),
      Uint8Array.of(0xc0),
      enc([{ t: "ping" }]),
      enc("ping"),
      enc(42),
      enc(true),
      Uint8Array.of(0xde, 0x00), // truncated map16 header
      Uint8Array.of(0xdf, 0x00, 0x00), // truncated map32 header
      enc({ t: "ping", id: "abc" }).subarray(0, 8), // truncated
      concat(enc({ t: "ping" }), [0x00]), // trailing byte
      concat(enc({ t: "ping" }), enc({ t: "ping" })), // two frames in one message
      rawMap([["t", enc("ping")], ["id", Uint8Array.of(0xa2, 0xff, 0xfe)]]), // invalid UTF-8 in a value
      rawMap([["t", enc("sub")], ["topic", Uint8Array.of(0xc1)]]), // reserved byte
      rawMap([["t", enc("ping")], [Uint8Array.of(0xc1), enc(1)]]), // reserved byte as a key
      rawMap([["t", enc("ping")], ["x", concat(new Array(MAX_DEPTH + 1).fill(0x91), [0xc0])]]), // too deep
      rawMap([["t", enc("ping")], ["x", Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff)]]), // huge count
      rawMap([["t", enc("ping")], ["x", Uint8Array.of(0xd4, 0x70, 0x00)]]), // ext msgpackr cannot decode
      Uint8Array.of(0x82, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67), // count says 2, one entry present
    ];
    for (const buf of cases) expect(decodeError(() => decodeBinary(buf)).code).toBe(ErrorCode.BAD_FRAME);
    fc.assert(
      fc.property(msgpackValue.filter((v) => v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array), (v) => {
        expect(decodeError(() => decodeBinary(enc(v))).code).toBe(ErrorCode.BAD_FRAME);
      }),
      { numRuns: 500 },
    );
  });

  test("BAD_FRAME (json): invalid JSON, or JSON that is not an object", () => {
    for (const text of ["", " ", "{", "{\"t\":\"ping\"", "{'t':'ping'}", "ping", "{\"t\":\"ping\"}}", "\u0000", "[", "NaN", "{\"t\":undefined}"]) {
      const e = decodeError(() => decodeText(text));
      expect(e.code).toBe(ErrorCode.BAD_FRAME);
      expect(e.message).toStartWith("invalid JSON");
    }
    for (const text of ["null", "[]", "[{\"t\":\"ping\"}]", "1", "\"ping\"", "true"]) {
      expect(decodeError(() => decodeText(text)).code).toBe(ErrorCode.BAD_FRAME);
    }
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
        let valid = true;
        try {
          JSON.parse(s);
        } catch {
          valid = false;
        }
        fc.pre(!valid);
        expect(decodeError(() => decodeText(s)).code).toBe(ErrorCode.BAD_FRAME);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.jsonValue().filter((v) => v === null || typeof v !== "object" || Array.isArray(v)), (v) => {
        expect(decodeError(() => decodeText(JSON.stringify(v))).code).toBe(ErrorCode.BAD_FRAME);
      }),
      { numRuns: 500 },
    );
  });

  const KNOWN = new Set(Object.keys(clientFrameSchemas));
  const unknownT = fc.oneof(
    fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !KNOWN.has(s)),
    fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "PING", "ping ", "msg", "welcome", "ack", "error"),
    fc.integer(),
    fc.constant(null),
    fc.boolean(),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("a", "b"), fc.integer(), { noNullPrototype: true }),
  );

  test("UNKNOWN_TYPE: t missing, not a string or not a known type; the id is echoed when readable", () => {
    fc.assert(
      fc.property(fc.option(unknownT, { nil: undefined }), opt(idArb), (t, id) => {
        const f = clean({ t, id, topic: "a" });
        for (const e of [decodeError(() => decodeBinary(enc(f))), decodeError(() => decodeText(JSON.stringify(f)))]) {
          expect(e.code).toBe(ErrorCode.UNKNOWN_TYPE);
          expect(e.frameId).toBe(id as never);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test("INVALID_FRAME: fields of the wrong type or out of range; the id is echoed when readable", () => {
    // `noId`: the test adds no id (the frame is wrong for lacking it).
    const wrong: Obj[] = [
      { t: "sub" }, // topic missing
      { t: "sub", topic: "" },
      { t: "sub", topic: "a".repeat(257) },
      { t: "sub", topic: 5 },
      { t: "unsub", topic: ["a"] },
      { t: "pub", topic: "a" }, // data missing
      { t: "pub", topic: "a", key: "", data: 1 },
      { t: "pub", topic: "a", key: "k".repeat(129), data: 1 },
      { t: "pub", topic: { a: 1 }, data: 1 },
      { t: "req", method: "m", noId: true }, // id required
      { t: "req", method: "" },
      { t: "req", method: 1 },
      { t: "req", method: "m".repeat(129) },
      { t: "hello", client: "toaster" },
      { t: "hello" },
      { t: "hello", client: "api", meta: { k: { nested: 1 } } },
      { t: "hello", client: "api", meta: { k: "v".repeat(257) } },
      { t: "hello", client: "api", meta: ["x"] },
    ];
    fc.assert(
      fc.property(fc.constantFrom(...wrong), idArb, (f, id) => {
        const { noId, ...rest } = f;
        const frame = noId ? rest : { ...rest, id };
        const expectedId = noId ? undefined : id;
        for (const e of [decodeError(() => decodeBinary(enc(frame))), decodeError(() => decodeText(JSON.stringify(frame)))]) {
          expect(e.code).toBe(ErrorCode.INVALID_FRAME);
          expect(e.frameId).toBe(expectedId as never);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("INVALID_FRAME: an id that is not a string of at most 64 chars or a safe integer is neither accepted nor echoed", () => {
    const badIds: unknown[] = ["x".repeat(65), "y".repeat(10_000), 1.5, -0.25, 2 ** 53, -(2 ** 53), 1e300, true, false, [], {}, [1], { id: 1 }];
    for (const id of badIds) {
      for (const t of ["ping", "stats", "sub", "req"]) {
        const f = { t, id, topic: "a", method: "m" };
        // A 10,000-character id makes a `ping` or `stats` frame larger than its type's cap.
        const code = JSON.stringify(f).length > DEFAULT_FRAME_CAPS[t as "ping"] ? ErrorCode.FRAME_TOO_LARGE : ErrorCode.INVALID_FRAME;
        for (const e of [decodeError(() => decodeBinary(enc(f))), decodeError(() => decodeText(JSON.stringify(f)))]) {
          expect(e.code).toBe(code);
          expect(e.frameId).toBeUndefined();
        }
      }
    }
    // 64-bit ids outside the safe range arrive as unsafe numbers.
    const e = decodeError(() => decodeBinary(enc({ t: "ping", id: 2n ** 63n })));
    expect(e.code).toBe(ErrorCode.INVALID_FRAME);
    expect(e.frameId).toBeUndefined();
    // The limits themselves are fine.
    expect(decodeBinary(enc({ t: "ping", id: "z".repeat(64) })).frame.id).toBe("z".repeat(64));
    expect(decodeText(JSON.stringify({ t: "ping", id: Number.MAX_SAFE_INTEGER })).frame.id).toBe(Number.MAX_SAFE_INTEGER);
  });

  test("INVALID_FRAME: a pub without data, in either encoding, echoes the id", () => {
    for (const e of [decodeError(() => decodeBinary(enc({ t: "pub", id: "p", topic: "a" }))), decodeError(() => decodeText('{"t":"pub","id":"p","topic":"a"}'))]) {
      expect(e.code).toBe(ErrorCode.INVALID_FRAME);
      expect(e.message).toStartWith("pub: data: ");
      expect(e.frameId).toBe("p");
    }
    // `data: null` is data.
    expect(decodeText('{"t":"pub","topic":"a","data":null}').payload).toEqual({ value: null });
    expect(decodeBinary(enc({ t: "pub", topic: "a", data: null })).payload?.raw).toEqual(Uint8Array.of(0xc0));
  });

  test("BAD_PAYLOAD: malformed msgpack inside a pub's data, wherever data sits", () => {
    const badData: Uint8Array[] = [
      Uint8Array.of(0xc1),
      Uint8Array.of(0xa2, 0xff, 0xfe), // invalid UTF-8
      Uint8Array.of(0x92, 0x01, 0xa1, 0x80), // invalid UTF-8 nested
      Uint8Array.of(0x81, 0xa2, 0xed, 0xa0, 0x80), // surrogate as a key, nested
      concat(new Array(MAX_DEPTH + 1).fill(0x91), [0xc0]),
      concat(new Array(100_000).fill(0x91), [0xc0]),
      Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff, 0x00),
      Uint8Array.of(0x92, 0xc1, 0x00),
    ];
    for (const data of badData) {
      for (const at of [0, 1, 2]) {
        const head: [string, Uint8Array][] = [["t", enc("pub")], ["id", enc("p")], ["topic", enc("a")]];
        const buf = rawMap([...head.slice(0, at), ["data", data], ...head.slice(at)]);
        expect(decodeError(() => decodeBinary(buf)).code).toBe(ErrorCode.BAD_PAYLOAD);
      }
    }
    // Truncated data at the end of the frame.
    for (const data of [Uint8Array.of(0xa5, 0x61), Uint8Array.of(0x93, 0x01), Uint8Array.of(0xcb, 0x00), Uint8Array.of(0xc4, 0x09, 0x01), Uint8Array.of(0xd9)]) {
      const buf = rawMap([["t", enc("pub")], ["id", enc("p")], ["topic", enc("a")], ["data", data]]);
      expect(decodeError(() => decodeBinary(buf)).code).toBe(ErrorCode.BAD_PAYLOAD);
    }
  });

  test("arbitrary and mutated input only ever throws DecodeError", () => {
    const frames = clientFrame(msgpackValue).map(enc);
    const mutated = fc
      .tuple(frames, fc.integer({ min: 0, max: 4 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 6 }))
      .map(([b, op, at, byte, extra]) => {
        const i = at % b.length;
        const c = b.slice();
        if (op === 0) c[i] = c[i]! ^ (1 << (byte & 7));
        else if (op === 1) c[i] = byte;
        else if (op === 2) return c.subarray(0, i);
        else if (op === 3) return concat(c, extra);
        else return concat(c.subarray(0, i), extra, c.subarray(i));
        return c;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), (buf) => {
        try {
          decodeBinary(buf);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          expect(Object.values(ErrorCode)).toContain(e.code);
        }
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 60 }),
          clientFrame(fc.jsonValue()).map((f) => JSON.stringify(f)),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.record({ t: fc.jsonValue(), id: fc.jsonValue() }).map((f) => JSON.stringify(f)),
        ),
        (text) => {
          try {
            decodeText(text);
          } catch (e) {
            if (!(e instanceof DecodeError)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("regressions", () => {
  test("decodeText: `t` an object whose string conversion throws is UNKNOWN_TYPE, not a TypeError", () => {
    // Once: validate() built its message with String(t); {"toString":1} made that throw "No default value"
    // (fast-check's record({t: jsonValue()}) finds {"t":{"toString":null}} on its own).
    for (const text of ['{"t":{"toString":1},"id":"a"}', '{"t":[{"toString":1}],"id":"a"}', '{"t":{"valueOf":{},"toString":{}},"id":"a"}']) {
      const e = decodeError(() => decodeText(text));
      expect(e.code).toBe(ErrorCode.UNKNOWN_TYPE);
      expect(e.frameId).toBe("a");
    }
  });

  test("decodeBinary: a map whose `t` is {toString: 1} is UNKNOWN_TYPE, not a TypeError", () => {
    const e = decodeError(() => decodeBinary(enc({ t: { toString: 1 }, id: "a" })));
    expect(e.code).toBe(ErrorCode.UNKNOWN_TYPE);
    expect(e.frameId).toBe("a");
  });

  test("decodeBinary: req or pub data holding an ext msgpackr cannot decode is BAD_PAYLOAD, not a plain Error", () => {
    // Once: req data was unpacked outside any try/catch and msgpackr threw "Unknown extension 5".
    for (const t of ["req", "pub"]) {
      for (const data of [Uint8Array.of(0xd4, 0x05, 0x01), Uint8Array.of(0xc7, 0x01, 0x70, 0x00), Uint8Array.of(0xd4, 0x70, 0x00), Uint8Array.of(0x91, 0xd4, 0x00, 0x00)]) {
        const buf = rawMap([["t", enc(t)], ["id", enc("r1")], ["method", enc("echo")], ["topic", enc("a")], ["data", data]]);
        expect(decodeError(() => decodeBinary(buf)).code).toBe(ErrorCode.BAD_PAYLOAD);
      }
    }
    // The timestamp extension is allowed.
    const ts = rawMap([["t", enc("req")], ["id", enc("r1")], ["method", enc("echo")], ["data", Uint8Array.of(0xd6, 0xff, 0, 0, 0, 1)]]);
    expect((decodeBinary(ts).frame as Obj).data).toEqual(new Date(1000));
  });

  test("decodeBinary: a top-level key that is not valid UTF-8 is BAD_FRAME, like the same bytes in a value", () => {
    // Once: readKey() copied key bytes without a UTF-8 check and msgpackr decoded them leniently.
    const buf = rawMap([["t", enc("ping")], ["id", enc("a")], [Uint8Array.of(0xa2, 0xff, 0xfe), enc(1)]]);
    expect(decodeError(() => decodeBinary(buf)).code).toBe(ErrorCode.BAD_FRAME);
    const overlongT = rawMap([[Uint8Array.of(0xa2, 0xc1, 0xb4), enc("ping")]]); // overlong "t"
    expect(decodeError(() => decodeBinary(overlongT)).code).toBe(ErrorCode.BAD_FRAME);
  });

  test("decodeBinary: finds the `data` entry when its key is encoded as str16 / str32 (legal msgpack)", () => {
    // Once: readKey() only knew fixstr/str8 keys, so a pub was "missing" data and a req lost it silently.
    const str16Data = Uint8Array.of(0xda, 0x00, 0x04, 0x64, 0x61, 0x74, 0x61);
    const str32Data = Uint8Array.of(0xdb, 0x00, 0x00, 0x00, 0x04, 0x64, 0x61, 0x74, 0x61);
    for (const key of [str16Data, str32Data]) {
      const pub = decodeBinary(rawMap([["t", enc("pub")], ["topic", enc("a")], [key, enc(7)]]));
      expect(pub.payload?.raw).toEqual(enc(7));
      const req = decodeBinary(rawMap([["t", enc("req")], ["id", enc(1)], ["method", enc("m")], [key, enc(7)]]));
      expect((req.frame as Obj).data).toBe(7);
    }
  });
});

describe("encodePublicationMsgpack (hand-written header)", () => {
  test("decodes exactly like msgpackr's own encoding of the same frame, tags included", () => {
    fc.assert(
      fc.property(
        fc.record({
          topic: fc.constantFrom("a", "prices.BTC-USD", "devices.x.telemetry"),
          seq: fc.oneof(fc.nat(200), fc.nat(), fc.maxSafeNat()),
          epoch: fc.constantFrom("e1", "0123456789ab"),
          ts: fc.oneof(fc.nat(), fc.integer({ min: 1.6e12, max: 2.2e12 })),
          key: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
          tags: fc.option(fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 4 }), { nil: undefined }),
        }),
        fc.jsonValue(),
        (h, v) => {
          const raw = packr.pack(v);
          const expected: Record<string, unknown> = { t: "msg", topic: h.topic, seq: h.seq, epoch: h.epoch, ts: h.ts };
          if (h.key !== undefined) expected.key = h.key;
          if (h.tags !== undefined) expected.tags = h.tags;
          expected.data = v;
          const ours = encodePublicationMsgpack(h, raw);
          assertOneValue(ours);
          expect(unpackr.unpack(ours)).toEqual(unpackr.unpack(packr.pack(expected)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
