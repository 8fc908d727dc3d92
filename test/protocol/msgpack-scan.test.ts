/**
 * Property tests for the structural msgpack scanner.
 *
 * Two sources of valid encodings: msgpackr (what real clients send) and a
 * small encoder here that picks any legal format for each value, including
 * non-minimal ones (a 1 in a uint64, a short string in a str32, ext types)
 * that msgpackr never emits.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Packr, type FLOAT32_OPTIONS } from "msgpackr";
import { MAX_DEPTH, ScanError, assertOneValue, readKey, readMapHeader, skipValue } from "../../src/protocol/msgpack-scan.ts";

const packr = new Packr({ useRecords: false, variableMapSize: true, useFloat32: 0 as FLOAT32_OPTIONS });
const packr32 = new Packr({ useRecords: false, variableMapSize: true, useFloat32: 1 as FLOAT32_OPTIONS });

const te = new TextEncoder();

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function be(n: number, bytes: number): number[] {
  const out: number[] = [];
  for (let i = bytes - 1; i >= 0; i--) out.push(Math.floor(n / 2 ** (8 * i)) & 0xff);
  return out;
}

/** Runs `f` and returns the ScanError it throws; fails the test if it throws anything else or nothing. */
function scanError(f: () => unknown): ScanError {
  try {
    f();
  } catch (e) {
    if (e instanceof ScanError) return e;
    throw new Error(`expected ScanError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  throw new Error("expected ScanError, but the input was accepted");
}

// ---- values msgpackr can pack ----

const packable = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
    fc.maxSafeInteger(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.double(),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.string({ unit: "binary", minLength: 20, maxLength: 400 }),
    fc.uint8Array({ maxLength: 300 }),
  ),
  value: fc.oneof({ depthSize: "small", maxDepth: 5, depthIdentifier: "packable" }, tie("leaf"), tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 10, depthIdentifier: "packable" }),
  object: fc.dictionary(fc.string({ unit: "binary", maxLength: 12 }), tie("value"), { maxKeys: 10, depthIdentifier: "packable" }),
})).value;

// ---- any legal encoding, built byte by byte ----

/** The only extension type the scanner accepts: the msgpack timestamp, -1. */
const TIMESTAMP = 0xff;
const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const utf8Body = fc.string({ unit: "binary", maxLength: 60 }).map((s) => te.encode(s));

function strHeader(len: number, fmt: number): number[] {
  // fmt: 0 fixstr (if it fits), 1 str8, 2 str16, 3 str32
  if (fmt === 0 && len < 32) return [0xa0 | len];
  if (fmt <= 1 && len < 256) return [0xd9, len];
  if (fmt <= 2 && len < 65536) return [0xda, ...be(len, 2)];
  return [0xdb, ...be(len, 4)];
}

function containerHeader(n: number, fmt: number, map: boolean): number[] {
  if (fmt === 0 && n < 16) return [(map ? 0x80 : 0x90) | n];
  if (fmt <= 1 && n < 65536) return [map ? 0xde : 0xdc, ...be(n, 2)];
  return [map ? 0xdf : 0xdd, ...be(n, 4)];
}

const encScalar: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(Uint8Array.of(0xc0), Uint8Array.of(0xc2), Uint8Array.of(0xc3)),
  fc.integer({ min: 0, max: 0x7f }).map((n) => Uint8Array.of(n)),
  fc.integer({ min: 0xe0, max: 0xff }).map((n) => Uint8Array.of(n)),
  fc.constantFrom([0xcc, 1], [0xcd, 2], [0xce, 4], [0xcf, 8], [0xd0, 1], [0xd1, 2], [0xd2, 4], [0xd3, 8], [0xca, 4], [0xcb, 8]).chain(([h, n]) =>
    bytesOf(n!).map((b) => concat([h!], b)),
  ),
  fc.tuple(utf8Body, fc.integer({ min: 0, max: 3 })).map(([b, f]) => concat(strHeader(b.length, f), b)),
  fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 2 })).map(([b, f]) =>
    concat(f === 0 && b.length < 256 ? [0xc4, b.length] : f <= 1 && b.length < 65536 ? [0xc5, ...be(b.length, 2)] : [0xc6, ...be(b.length, 4)], b),
  ),
  // fixext 1/2/4/8/16 of the one allowed type, the timestamp (-1): type byte + data
  fc.constantFrom([0xd4, 1], [0xd5, 2], [0xd6, 4], [0xd7, 8], [0xd8, 16]).chain(([h, n]) => bytesOf(n!).map((b) => concat([h!, TIMESTAMP], b))),
  // ext 8/16/32: length, type byte, data
  fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 2 })).map(([b, f]) =>
    concat(f === 0 ? [0xc7, b.length] : f === 1 ? [0xc8, ...be(b.length, 2)] : [0xc9, ...be(b.length, 4)], [TIMESTAMP], b),
  ),
);

const encoded = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", maxDepth: 6, depthIdentifier: "encoded" }, encScalar, tie("array"), tie("map")),
  array: fc.tuple(fc.array(tie("value"), { maxLength: 18, depthIdentifier: "encoded" }), fc.integer({ min: 0, max: 2 })).map(([items, f]) =>
    concat(containerHeader(items.length, f, false), ...(items as Uint8Array[])),
  ),
  map: fc.tuple(fc.array(fc.tuple(tie("value"), tie("value")), { maxLength: 10, depthIdentifier: "encoded" }), fc.integer({ min: 0, max: 2 })).map(([entries, f]) =>
    concat(containerHeader(entries.length, f, true), ...(entries.flat() as Uint8Array[])),
  ),
})).value as fc.Arbitrary<Uint8Array>;

/** msgpackr encodings (two float widths) and hand-built ones. */
const validEncoding = fc.oneof(
  packable.map((v) => new Uint8Array(packr.pack(v))),
  packable.map((v) => new Uint8Array(packr32.pack(v))),
  encoded,
);

describe("skipValue / assertOneValue on valid input", () => {
  test("msgpackr encodings of arbitrary values are accepted whole", () => {
    fc.assert(
      fc.property(packable, (v) => {
        for (const p of [packr, packr32]) {
          const b = p.pack(v);
          expect(skipValue(b, 0)).toBe(b.length);
          assertOneValue(b);
        }
      }),
      { numRuns: 1500 },
    );
  });

  test("every legal format (non-minimal ints/strs/containers, bin, ext) is accepted whole", () => {
    fc.assert(
      fc.property(encoded, (b) => {
        expect(skipValue(b, 0)).toBe(b.length);
        assertOneValue(b);
      }),
      { numRuns: 1500 },
    );
  });

  test("scanning from an offset returns the absolute end, ignoring bytes around the value", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), validEncoding, fc.uint8Array({ maxLength: 20 }), (pre, b, post) => {
        const buf = concat(pre, b, post);
        expect(skipValue(buf, pre.length)).toBe(pre.length + b.length);
      }),
      { numRuns: 1000 },
    );
  });

  test("edge values: 64-bit ints, floats, empty and 16/32-bit sized containers and strings", () => {
    const cases: unknown[] = [
      0, -1, -32, -33, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -(2 ** 31), -(2 ** 31) - 1,
      Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n,
      0.5, -0, NaN, Infinity, -Infinity, 1e308, 5e-324,
      "", "a".repeat(31), "a".repeat(32), "a".repeat(255), "a".repeat(256), "é".repeat(40000), "😀🇫🇷\u{10FFFF}\uFFFE",
      new Uint8Array(0), new Uint8Array(255), new Uint8Array(256), new Uint8Array(70000),
      [], {}, new Array(15).fill(1), new Array(16).fill(1), new Array(65536).fill(0),
      Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
      Object.fromEntries(Array.from({ length: 65536 }, (_, i) => [`k${i}`, null])),
    ];
    for (const v of cases) {
      for (const p of [packr, packr32]) {
        const b = p.pack(v);
        expect(skipValue(b, 0)).toBe(b.length);
        assertOneValue(b);
      }
    }
  });

  test(`exactly ${MAX_DEPTH} levels of nesting are accepted`, () => {
    const arrays = concat(new Array(MAX_DEPTH).fill(0x91), [0xc0]);
    assertOneValue(arrays);
    const maps = concat(...Array.from({ length: MAX_DEPTH }, () => [0x81, 0xa1, 0x6b]), [0x01]);
    assertOneValue(maps);
    // Empty containers are leaves: they do not count as a level.
    assertOneValue(concat(new Array(MAX_DEPTH).fill(0x91), [0x90]));
    assertOneValue(packr.pack(JSON.parse("[".repeat(MAX_DEPTH) + "1" + "]".repeat(MAX_DEPTH))));
  });
});

describe("skipValue / assertOneValue reject malformed input", () => {
  test("every strict prefix of a valid encoding is rejected as truncated", () => {
    fc.assert(
      fc.property(validEncoding, fc.array(fc.nat(), { maxLength: 64 }), (b, picks) => {
        // All prefixes of small values; a sample of them for big ones.
        const cuts = b.length <= 400 ? Array.from({ length: b.length }, (_, i) => i) : picks.map((k) => k % b.length);
        for (const k of cuts) {
          const e = scanError(() => skipValue(b.subarray(0, k), 0));
          expect(e.message).toMatch(/truncated value|container count exceeds input/);
          scanError(() => assertOneValue(b.subarray(0, k)));
        }
      }),
      { numRuns: 500 },
    );
  });

  test("trailing bytes are rejected by assertOneValue, at the offset where the value ends", () => {
    fc.assert(
      fc.property(validEncoding, fc.uint8Array({ minLength: 1, maxLength: 20 }), (b, extra) => {
        const buf = concat(b, extra);
        expect(skipValue(buf, 0)).toBe(b.length);
        const e = scanError(() => assertOneValue(buf));
        expect(e.message).toBe("trailing bytes after value");
        expect(e.offset).toBe(b.length);
      }),
      { numRuns: 1000 },
    );
  });

  const INVALID_UTF8: number[][] = [
    [0x80], // lone continuation byte
    [0xbf],
    [0xff],
    [0xfe],
    [0xc0, 0x80], // overlong NUL
    [0xc1, 0xbf], // overlong
    [0xe0, 0x80, 0xaf], // overlong '/'
    [0xf0, 0x80, 0x80, 0xaf], // overlong
    [0xed, 0xa0, 0x80], // UTF-16 surrogate D800 (CESU-8)
    [0xed, 0xbf, 0xbf], // surrogate DFFF
    [0xf4, 0x90, 0x80, 0x80], // > U+10FFFF
    [0xf5, 0x80, 0x80, 0x80],
    [0xc3], // truncated 2-byte sequence
    [0xe2, 0x82], // truncated 3-byte sequence
    [0xf0, 0x9f, 0x98], // truncated 4-byte sequence
    [0xc3, 0x28], // bad continuation
  ];

  test("a str with invalid UTF-8 is rejected, in any str format and any position", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 30 }),
        fc.string({ unit: "binary", maxLength: 30 }),
        fc.constantFrom(...INVALID_UTF8),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom("alone", "in-array", "map-key", "map-value", "deep"),
        (a, z, bad, fmt, where) => {
          const body = concat(te.encode(a), bad, te.encode(z));
          const str = concat(strHeader(body.length, fmt), body);
          const buf =
            where === "alone" ? str
            : where === "in-array" ? concat([0x92, 0x01], str)
            : where === "map-key" ? concat([0x81], str, [0xc0])
            : where === "map-value" ? concat([0x81, 0xa1, 0x6b], str)
            : concat([0x91, 0x91, 0x81, 0xa1, 0x6b, 0x92, 0xc3], str);
          const e = scanError(() => skipValue(buf, 0));
          expect(e.message).toBe("string is not valid UTF-8");
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("a str is accepted exactly when its bytes are valid UTF-8 (independent validator)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }),
          fc.array(fc.oneof(fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0x20, max: 0x7e })), { maxLength: 12 }).map((a) => Uint8Array.from(a)),
          fc.string({ unit: "binary", maxLength: 20 }).map((s) => te.encode(s)),
        ),
        (body) => {
          const buf = concat(strHeader(body.length, 1), body);
          let accepted = true;
          try {
            assertOneValue(buf);
          } catch (e) {
            if (!(e instanceof ScanError)) throw e;
            accepted = false;
          }
          expect(accepted).toBe(isUtf8(body));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("the reserved byte 0xc1 is rejected wherever it appears, at its offset", () => {
    const cases: [Uint8Array, number][] = [
      [Uint8Array.of(0xc1), 0],
      [Uint8Array.of(0x92, 0x01, 0xc1), 2],
      [Uint8Array.of(0x81, 0xc1, 0x01), 1],
      [Uint8Array.of(0x81, 0xa1, 0x6b, 0xc1), 3],
      [Uint8Array.of(0x91, 0x91, 0x91, 0xc1), 3],
      [Uint8Array.of(0xdc, 0x00, 0x02, 0xc0, 0xc1), 4],
    ];
    for (const [buf, offset] of cases) {
      const e = scanError(() => skipValue(buf, 0));
      expect(e.message).toBe("reserved byte 0xc1");
      expect(e.offset).toBe(offset);
    }
    // 0xc1 inside str/bin/ext *data* is just a byte, not a type tag.
    assertOneValue(Uint8Array.of(0xc4, 0x01, 0xc1));
    assertOneValue(Uint8Array.of(0xd4, 0xff, 0xc1));
    fc.assert(
      fc.property(validEncoding, (b) => {
        // Replacing the very first byte of a valid value with 0xc1 always breaks it.
        const copy = b.slice();
        copy[0] = 0xc1;
        expect(scanError(() => skipValue(copy, 0)).offset).toBe(0);
        // Splicing 0xc1 in as an array element is always rejected.
        scanError(() => assertOneValue(concat([0x92], b, [0xc1])));
      }),
      { numRuns: 300 },
    );
  });

  test("extension types other than the timestamp (-1) are rejected, in every ext format, at the type byte", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 254 }),
        fc.constantFrom("d4", "d5", "d6", "d7", "d8", "c7", "c8", "c9"),
        fc.uint8Array({ maxLength: 20 }),
        fc.constantFrom("alone", "in-array", "map-value"),
        (type, fmt, body, where) => {
          const fixed: Record<string, number> = { d4: 1, d5: 2, d6: 4, d7: 8, d8: 16 };
          const data = fmt in fixed ? new Uint8Array(fixed[fmt]!) : body;
          const head = fmt in fixed ? [parseInt(fmt, 16)] : fmt === "c7" ? [0xc7, data.length] : fmt === "c8" ? [0xc8, ...be(data.length, 2)] : [0xc9, ...be(data.length, 4)];
          const ext = concat(head, [type], data);
          const prefix = where === "alone" ? [] : where === "in-array" ? [0x92, 0xc0] : [0x81, 0xa1, 0x6b];
          const buf = concat(prefix, ext);
          const e = scanError(() => skipValue(buf, 0));
          expect(e.message).toMatch(/extension type .* is not allowed/);
          expect(e.offset).toBe(prefix.length + head.length);
          // The same value with the timestamp type is fine.
          const ok = buf.slice();
          ok[prefix.length + head.length] = TIMESTAMP;
          expect(skipValue(ok, 0)).toBe(ok.length);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("huge declared container counts and lengths are rejected quickly", () => {
    const MB = new Uint8Array(1 << 20); // a megabyte of fixint 0s: plenty of "children", not enough
    const cases: Uint8Array[] = [
      Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff),
      Uint8Array.of(0xdf, 0xff, 0xff, 0xff, 0xff),
      Uint8Array.of(0xdc, 0xff, 0xff),
      Uint8Array.of(0xde, 0xff, 0xff),
      concat([0xdd, 0xff, 0xff, 0xff, 0xff], MB),
      concat([0xdf, 0xff, 0xff, 0xff, 0xff], MB),
      concat([0xdf, 0x00, 0x08, 0x00, 0x01], MB), // 2^19+1 entries: 2^20+2 children for 2^20 bytes
      concat([0xdd, ...be(MB.length + 1, 4)], MB),
      concat([0x91, 0x91, 0xdd, 0xff, 0xff, 0xff, 0xff], MB),
      concat([0x81, 0xa1, 0x6b, 0xdf, 0x7f, 0xff, 0xff, 0xff], MB),
      concat([0xdb, 0xff, 0xff, 0xff, 0xff], MB), // str32
      concat([0xc6, 0xff, 0xff, 0xff, 0xff], MB), // bin32
      concat([0xc9, 0xff, 0xff, 0xff, 0xff, TIMESTAMP], MB), // ext32
    ];
    for (const buf of cases) {
      const e = scanError(() => skipValue(buf, 0));
      expect(e.message).toMatch(/container count exceeds input|truncated value/);
      // Refused at the header, before walking the megabyte behind it.
      expect(e.offset).toBeLessThan(16);
    }
    // Just enough children is fine: 2^20 fixint zeros in an array32.
    const ok = concat([0xdd, ...be(MB.length, 4)], MB);
    expect(skipValue(ok, 0)).toBe(ok.length);
  });

  test("nesting deeper than MAX_DEPTH is rejected without exhausting the stack", () => {
    for (const depth of [MAX_DEPTH + 1, 1000, 100_000]) {
      const arrays = concat(new Array(depth).fill(0x91), [0xc0]);
      expect(scanError(() => skipValue(arrays, 0)).message).toBe(`nesting deeper than ${MAX_DEPTH}`);
      // Truncated too (no leaf at all): still a ScanError, with no stack growth.
      expect(scanError(() => skipValue(arrays.subarray(0, depth), 0)).message).toMatch(/nesting deeper than|container count exceeds input/);
    }
    const maps = concat(...Array.from({ length: 100_000 }, () => [0x81, 0xa1, 0x6b]), [0x01]);
    expect(scanError(() => assertOneValue(maps)).message).toBe(`nesting deeper than ${MAX_DEPTH}`);
    const mixed = concat(...Array.from({ length: 50_000 }, (_, i) => (i % 2 ? [0x91] : [0xdc, 0x00, 0x01])), [0xc0]);
    expect(scanError(() => assertOneValue(mixed)).message).toBe(`nesting deeper than ${MAX_DEPTH}`);
  });

  test("arbitrary bytes: only ScanError is ever thrown, and an accepted value ends inside the input", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 64 }), validEncoding.chain((b) => mutate(b))),
        (buf) => {
          try {
            const end = skipValue(buf, 0);
            expect(end).toBeGreaterThan(0);
            expect(end).toBeLessThanOrEqual(buf.length);
          } catch (e) {
            if (!(e instanceof ScanError)) throw e;
            expect(e.offset).toBeGreaterThanOrEqual(0);
            expect(e.offset).toBeLessThanOrEqual(buf.length);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe("readMapHeader / readKey", () => {
  test("read map headers and short keys of msgpackr maps", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: "grapheme-ascii", maxLength: 32 }), fc.integer(), { maxKeys: 40 }), (obj) => {
        const b = packr.pack(obj);
        const h = readMapHeader(b, 0);
        const keys = Object.keys(obj);
        expect(h?.count).toBe(keys.length);
        let p = h!.next;
        for (const k of keys) {
          const r = readKey(b, p)!;
          expect(r.key).toBe(k);
          p = skipValue(b, r.next);
        }
        expect(p).toBe(b.length);
      }),
      { numRuns: 500 },
    );
    expect(readMapHeader(Uint8Array.of(0x90), 0)).toBeNull();
    expect(readMapHeader(Uint8Array.of(0xde, 0x00), 0)).toBeNull();
    expect(readMapHeader(Uint8Array.of(0xdf, 0, 0, 0), 0)).toBeNull();
    expect(readMapHeader(new Uint8Array(0), 0)).toBeNull();
    expect(readKey(Uint8Array.of(0xa4, 0x64, 0x61), 0)).toBeNull(); // truncated
    expect(readKey(Uint8Array.of(0x01), 0)).toBeNull(); // not a string
    expect(readKey(Uint8Array.of(0xda, 0x00, 0x01, 0x6b), 0)).toEqual({ key: "k", next: 4 }); // str16
    expect(readKey(Uint8Array.of(0xdb, 0x00, 0x00, 0x00, 0x01, 0x6b), 0)).toEqual({ key: "k", next: 6 }); // str32
    // Non-ASCII keys are left to skipValue, which checks their UTF-8.
    expect(readKey(Uint8Array.of(0xa2, 0xc3, 0xa9), 0)).toBeNull();
    expect(readKey(Uint8Array.of(0xa2, 0xff, 0xfe), 0)).toBeNull();
  });
});

// ---- helpers ----

/** Strict UTF-8 validation written from RFC 3629, independent of TextDecoder. */
function isUtf8(b: Uint8Array): boolean {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n: number;
    let min: number;
    let cp: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) [n, min, cp] = [1, 0x80, c & 0x1f];
    else if (c >= 0xe0 && c <= 0xef) [n, min, cp] = [2, 0x800, c & 0x0f];
    else if (c >= 0xf0 && c <= 0xf4) [n, min, cp] = [3, 0x10000, c & 0x07];
    else return false;
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

/** Flips, sets, truncates, extends or deletes a few bytes. */
function mutate(b: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.integer({ min: 0, max: 4 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([op, at, byte, extra]) => {
    if (b.length === 0) return extra;
    const i = at % b.length;
    const c = b.slice();
    switch (op) {
      case 0: c[i] = c[i]! ^ (1 << (byte & 7)); return c;
      case 1: c[i] = byte; return c;
      case 2: return c.subarray(0, i);
      case 3: return concat(c, extra);
      default: return concat(c.subarray(0, i), c.subarray(i + 1));
    }
  });
}
