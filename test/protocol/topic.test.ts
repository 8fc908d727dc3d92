/**
 * Property tests for topic syntax and NATS-style wildcard matching.
 *
 * `matches` is checked against a tiny reference model over token arrays:
 * `*` matches exactly one token, `>` (last) matches one or more tokens,
 * anything else matches itself literally.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { MAX_TOPIC_LENGTH, MAX_TOPIC_TOKENS, isPattern, matches, topicError } from "../../src/protocol/topic.ts";

const RUNS = { numRuns: 2000 } as const;

// ---- reference model ----

function refMatches(pattern: readonly string[], topic: readonly string[]): boolean {
  const last = pattern.length - 1;
  if (pattern[last] === ">") {
    if (topic.length < pattern.length) return false; // '>' needs at least one token
    for (let i = 0; i < last; i++) if (pattern[i] !== "*" && pattern[i] !== topic[i]) return false;
    return true;
  }
  if (topic.length !== pattern.length) return false;
  return pattern.every((p, i) => p === "*" || p === topic[i]);
}

// ---- generators ----

const TOKEN_CHARS = "ABCXYZabcxyz0189_-:@~+=";
const tokenChar = fc.constantFrom(...TOKEN_CHARS.split(""));
/** Random literal tokens, plus a few common ones so topics and patterns collide often. */
const literalToken = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("a", "b", "c", "prices", "BTC-USD", "x_1") },
  { weight: 2, arbitrary: fc.string({ unit: tokenChar, minLength: 1, maxLength: 6 }) },
);
const topicTokens = fc.array(literalToken, { minLength: 1, maxLength: MAX_TOPIC_TOKENS });

/** A valid pattern: literal tokens and `*`, optionally ending with `>`. */
const patternTokens = fc
  .tuple(fc.array(fc.oneof(literalToken, fc.constant("*")), { minLength: 0, maxLength: MAX_TOPIC_TOKENS - 1 }), fc.boolean())
  .filter(([body, tail]) => body.length + (tail ? 1 : 0) >= 1)
  .map(([body, tail]) => (tail ? [...body, ">"] : body));

/** A pattern built from a topic (some tokens starred, maybe a `>` tail): always matches it. */
const topicAndDerivedPattern = topicTokens.chain((topic) =>
  fc
    .tuple(fc.array(fc.boolean(), { minLength: topic.length, maxLength: topic.length }), fc.option(fc.nat({ max: topic.length - 1 }), { nil: undefined }))
    .map(([stars, cut]) => {
      let p = topic.map((t, i) => (stars[i] ? "*" : t));
      if (cut !== undefined) p = [...p.slice(0, cut), ">"];
      return { topic, pattern: p };
    }),
);

const join = (tokens: readonly string[]) => tokens.join(".");

describe("matches: reference model", () => {
  test("agrees with the model for random patterns and topics", () => {
    fc.assert(
      fc.property(patternTokens, topicTokens, (p, t) => {
        expect(matches(join(p), join(t))).toBe(refMatches(p, t));
      }),
      RUNS,
    );
  });

  test("agrees with the model when the topic itself contains '*' / '>' tokens (taken literally)", () => {
    const anyToken = fc.oneof(literalToken, fc.constantFrom("*", ">"));
    fc.assert(
      fc.property(patternTokens, fc.array(anyToken, { minLength: 1, maxLength: MAX_TOPIC_TOKENS }), (p, t) => {
        expect(matches(join(p), join(t))).toBe(refMatches(p, t));
      }),
      RUNS,
    );
  });

  test("a pattern derived from a topic (tokens starred, tail replaced by '>') matches it", () => {
    fc.assert(
      fc.property(topicAndDerivedPattern, ({ topic, pattern }) => {
        expect(refMatches(pattern, topic)).toBe(true);
        expect(matches(join(pattern), join(topic))).toBe(true);
      }),
      RUNS,
    );
  });

  test("a pattern without wildcards matches exactly itself", () => {
    fc.assert(
      fc.property(topicTokens, topicTokens, (a, b) => {
        expect(matches(join(a), join(a))).toBe(true);
        expect(matches(join(a), join(b))).toBe(join(a) === join(b));
      }),
      RUNS,
    );
  });

  test("'>' never matches the bare prefix, but matches it plus one or more tokens", () => {
    fc.assert(
      fc.property(
        fc.array(literalToken, { minLength: 0, maxLength: MAX_TOPIC_TOKENS - 2 }),
        fc.array(literalToken, { minLength: 1, maxLength: 4 }),
        (prefix, rest) => {
          const pattern = join([...prefix, ">"]);
          if (prefix.length > 0) expect(matches(pattern, join(prefix))).toBe(false);
          expect(matches(pattern, join([...prefix, ...rest]))).toBe(true);
        },
      ),
      RUNS,
    );
  });

  test("'*' matches exactly one token: not zero, not two", () => {
    fc.assert(
      fc.property(fc.array(literalToken, { maxLength: 6 }), literalToken, literalToken, (prefix, x, y) => {
        const pattern = join([...prefix, "*"]);
        if (prefix.length > 0) expect(matches(pattern, join(prefix))).toBe(false);
        expect(matches(pattern, join([...prefix, x]))).toBe(true);
        expect(matches(pattern, join([...prefix, x, y]))).toBe(false);
      }),
      RUNS,
    );
  });

  test("examples", () => {
    expect(matches("prices.>", "prices.BTC-USD")).toBe(true);
    expect(matches("prices.>", "prices.BTC-USD.bid")).toBe(true);
    expect(matches("prices.>", "prices")).toBe(false);
    expect(matches(">", "a")).toBe(true);
    expect(matches(">", "a.b.c")).toBe(true);
    expect(matches("*", "a")).toBe(true);
    expect(matches("*", "a.b")).toBe(false);
    expect(matches("a.*.c", "a.b.c")).toBe(true);
    expect(matches("a.*.c", "a.b.d")).toBe(false);
    expect(matches("a.*", "a.>")).toBe(true); // patterns as literal topics (policy lookup)
    expect(matches("a.b", "a.*")).toBe(false);
  });
});

// ---- topicError ----

const validTopic = topicTokens.map(join).filter((s) => s.length <= MAX_TOPIC_LENGTH);
const validPattern = patternTokens.map(join).filter((s) => s.length <= MAX_TOPIC_LENGTH);
const BAD_CHARS = [" ", "/", "#", "$", "%", "!", "?", "*", ">", "é", "€", "\u0000", "\n", "\t", ",", "'", "\"", "😀", "\\", "[", "("];

describe("topicError", () => {
  test("accepts every valid topic, with or without wildcards allowed", () => {
    fc.assert(
      fc.property(validTopic, (t) => {
        expect(topicError(t, false)).toBeNull();
        expect(topicError(t, true)).toBeNull();
        expect(isPattern(t)).toBe(false);
      }),
      RUNS,
    );
  });

  test("accepts every valid pattern when wildcards are allowed; rejects it otherwise if it has one", () => {
    fc.assert(
      fc.property(validPattern, (p) => {
        expect(topicError(p, true)).toBeNull();
        const wild = p.split(".").some((t) => t === "*" || t === ">");
        expect(isPattern(p)).toBe(wild);
        if (wild) expect(topicError(p, false)).toMatch(/wildcard '[*>]' is not allowed here/);
        else expect(topicError(p, false)).toBeNull();
      }),
      RUNS,
    );
  });

  test("rejects an empty token anywhere (leading, trailing or doubled dot)", () => {
    fc.assert(
      fc.property(
        fc.array(literalToken, { minLength: 1, maxLength: MAX_TOPIC_TOKENS - 1 }),
        fc.nat(),
        fc.boolean(),
        (tokens, at, wild) => {
          const i = at % (tokens.length + 1);
          const name = join([...tokens.slice(0, i), "", ...tokens.slice(i)]);
          expect(topicError(name, wild)).toBe("topic has an empty token");
        },
      ),
      RUNS,
    );
    expect(topicError("", true)).toBe("topic is empty");
    expect(topicError("", false)).toBe("topic is empty");
    expect(topicError(".", true)).toBe("topic has an empty token");
  });

  test("rejects a token with a character outside [A-Za-z0-9_-:@~+=]", () => {
    fc.assert(
      fc.property(
        fc.array(literalToken, { minLength: 1, maxLength: MAX_TOPIC_TOKENS }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(...BAD_CHARS),
        fc.boolean(),
        (tokens, ti, ci, bad, wild) => {
          const i = ti % tokens.length;
          const tok = tokens[i]!;
          const j = ci % (tok.length + 1);
          const broken = tok.slice(0, j) + bad + tok.slice(j); // never just "*" or ">": tok is non-empty
          const name = join(tokens.map((t, k) => (k === i ? broken : t)));
          fc.pre(name.length <= MAX_TOPIC_LENGTH);
          expect(topicError(name, wild)).toMatch(/has characters outside/);
        },
      ),
      RUNS,
    );
  });

  test("rejects '>' anywhere but last (wildcards allowed)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(literalToken, fc.constant("*")), { minLength: 1, maxLength: MAX_TOPIC_TOKENS - 1 }),
        fc.nat(),
        (tokens, at) => {
          const i = at % tokens.length; // insert before at least one token
          const name = join([...tokens.slice(0, i), ">", ...tokens.slice(i)]);
          expect(topicError(name, true)).toBe("'>' must be the last token");
        },
      ),
      RUNS,
    );
    expect(topicError(">.>", true)).toBe("'>' must be the last token");
  });

  test(`rejects more than ${MAX_TOPIC_TOKENS} tokens; accepts exactly ${MAX_TOPIC_TOKENS}`, () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: tokenChar, minLength: 1, maxLength: 3 }), { minLength: MAX_TOPIC_TOKENS + 1, maxLength: 40 }), fc.boolean(), (tokens, wild) => {
        expect(topicError(join(tokens), wild)).toBe(`topic has more than ${MAX_TOPIC_TOKENS} tokens`);
      }),
      RUNS,
    );
    const exact = Array.from({ length: MAX_TOPIC_TOKENS }, (_, i) => `t${i}`);
    expect(topicError(join(exact), false)).toBeNull();
    expect(topicError(join([...exact.slice(1), ">"]), true)).toBeNull();
  });

  test(`rejects names longer than ${MAX_TOPIC_LENGTH} characters; accepts exactly ${MAX_TOPIC_LENGTH}`, () => {
    expect(topicError("a".repeat(MAX_TOPIC_LENGTH), false)).toBeNull();
    expect(topicError("a".repeat(MAX_TOPIC_LENGTH + 1), false)).toMatch(/longer than 256/);
    fc.assert(
      fc.property(fc.string({ unit: tokenChar, minLength: MAX_TOPIC_LENGTH + 1, maxLength: 600 }), (name) => {
        expect(topicError(name, true)).toMatch(/longer than 256/);
      }),
      { numRuns: 200 },
    );
  });

  test("rejects wildcards when not allowed, wherever they are", () => {
    fc.assert(
      fc.property(fc.array(literalToken, { minLength: 0, maxLength: MAX_TOPIC_TOKENS - 1 }), fc.nat(), fc.constantFrom("*", ">"), (tokens, at, w) => {
        const i = w === ">" ? tokens.length : at % (tokens.length + 1);
        const name = join([...tokens.slice(0, i), w, ...tokens.slice(i)]);
        expect(topicError(name, false)).toBe(`wildcard '${w}' is not allowed here`);
        expect(topicError(name, true)).toBeNull();
      }),
      RUNS,
    );
  });

  test("never throws, and always answers null or a string, for arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), fc.boolean(), (s, wild) => {
        const r = topicError(s, wild);
        expect(r === null || typeof r === "string").toBe(true);
        if (r === null) {
          // Whatever it accepts is well formed by the spec.
          const tokens = s.split(".");
          expect(s.length).toBeLessThanOrEqual(MAX_TOPIC_LENGTH);
          expect(tokens.length).toBeLessThanOrEqual(MAX_TOPIC_TOKENS);
          tokens.forEach((t, i) => {
            if (wild && (t === "*" || (t === ">" && i === tokens.length - 1))) return;
            expect(t).toMatch(/^[A-Za-z0-9_\-:@~+=]+$/);
          });
        }
      }),
      { numRuns: 500 },
    );
  });
});

// Issue 17: plain topics are checked in one pass; it must agree with the token-by-token check.
describe("topicError: one-pass check (issue 17)", () => {
  const TOKEN = /^[A-Za-z0-9_\-:@~+=]+$/;
  function reference(name: string, wild: boolean): string | null {
    if (name.length === 0) return "topic is empty";
    if (name.length > MAX_TOPIC_LENGTH) return `topic is longer than ${MAX_TOPIC_LENGTH} characters`;
    const tokens = name.split(".");
    if (tokens.length > MAX_TOPIC_TOKENS) return `topic has more than ${MAX_TOPIC_TOKENS} tokens`;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t === "*" || t === ">") {
        if (!wild) return `wildcard '${t}' is not allowed here`;
        if (t === ">" && i !== tokens.length - 1) return "'>' must be the last token";
        continue;
      }
      if (t.length === 0) return "topic has an empty token";
      if (!TOKEN.test(t)) return `token '${t.slice(0, 32)}' has characters outside [A-Za-z0-9_-:@~+=]`;
    }
    return null;
  }
  const chars = fc.constantFrom("a", "Z", "0", "9", ":", ";", "_", "-", "@", "~", "+", "=", ".", ".", "*", ">", " ", "/", "é", "`", "[", "{", "/");
  const names = fc.oneof(fc.array(chars, { maxLength: 40 }).map((a) => a.join("")), fc.string({ maxLength: 300 }), fc.array(fc.constantFrom("a", "."), { minLength: 250, maxLength: 260 }).map((a) => a.join("")));
  test("agrees with the token-by-token check on any string (issue 17)", () => {
    fc.assert(
      fc.property(names, fc.boolean(), (name, wild) => {
        expect(topicError(name, wild)).toBe(reference(name, wild));
      }),
      RUNS,
    );
  });
});
