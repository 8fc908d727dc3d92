/**
 * The part of `bun:test` the shared test files use, on `node:test` and
 * `node:assert`, so a case file written for Bun runs unchanged under Node
 * (bundled with `bun:test` pointed here). Add a matcher here when a case
 * file starts using one.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe as nodeDescribe, test as nodeTest } from "node:test";

type Fn = () => unknown;

export const describe = (name: string, fn: () => void) => nodeDescribe(name, fn);
export const test = Object.assign((name: string, fn: Fn, timeout?: number) => nodeTest(name, { timeout: timeout ?? 30_000 }, fn as () => Promise<void>), {
  concurrent: (name: string, fn: Fn, timeout?: number) => nodeTest(name, { timeout: timeout ?? 30_000 }, fn as () => Promise<void>),
  skip: (name: string, fn: Fn) => nodeTest(name, { skip: true }, fn as () => void),
});
export const it = test;
export const beforeAll = before;
export const afterAll = after;
export { beforeEach, afterEach };

function label(msg: string | undefined): string {
  return msg ? `${msg}: ` : "";
}

function matchers(actual: unknown, negate: boolean, msg?: string) {
  const check = (pass: boolean, what: string) => {
    if (pass === negate) assert.fail(`${label(msg)}expected ${String(inspect(actual))} ${negate ? "not " : ""}${what}`);
  };
  return {
    toBe: (v: unknown) => check(Object.is(actual, v), `to be ${inspect(v)}`),
    toEqual: (v: unknown) => check(deepEqual(actual, v), `to equal ${inspect(v)}`),
    toStrictEqual: (v: unknown) => check(deepEqual(actual, v), `to equal ${inspect(v)}`),
    toMatchObject: (v: object) => check(matchesObject(actual, v), `to match ${inspect(v)}`),
    toBeInstanceOf: (c: abstract new (...a: never[]) => unknown) => check(actual instanceof c, `to be an instance of ${c.name}`),
    toBeGreaterThan: (v: number) => check((actual as number) > v, `to be > ${v}`),
    toBeGreaterThanOrEqual: (v: number) => check((actual as number) >= v, `to be >= ${v}`),
    toBeLessThan: (v: number) => check((actual as number) < v, `to be < ${v}`),
    toBeLessThanOrEqual: (v: number) => check((actual as number) <= v, `to be <= ${v}`),
    toContain: (v: unknown) => check(typeof actual === "string" ? actual.includes(v as string) : (actual as unknown[]).includes(v), `to contain ${inspect(v)}`),
    toBeDefined: () => check(actual !== undefined, "to be defined"),
    toBeUndefined: () => check(actual === undefined, "to be undefined"),
    toBeNull: () => check(actual === null, "to be null"),
    toBeTrue: () => check(actual === true, "to be true"),
    toBeFalse: () => check(actual === false, "to be false"),
    toHaveLength: (n: number) => check((actual as { length: number }).length === n, `to have length ${n}`),
    toMatch: (re: RegExp | string) => check(typeof re === "string" ? String(actual).includes(re) : re.test(String(actual)), `to match ${re}`),
    toThrow: (m?: string | RegExp) => {
      let threw: unknown = NOTHING;
      try {
        (actual as () => unknown)();
      } catch (e) {
        threw = e;
      }
      check(threw !== NOTHING && messageMatches(threw, m), `to throw${m ? ` ${m}` : ""}`);
    },
  };
}

const NOTHING = Symbol("nothing");

function messageMatches(e: unknown, m?: string | RegExp): boolean {
  if (m === undefined) return true;
  const text = String((e as Error)?.message ?? e);
  return typeof m === "string" ? text.includes(m) : m.test(text);
}

/** Bun's toMatchObject: every key of `want` matches, recursively; arrays match element by element. */
function matchesObject(got: unknown, want: unknown): boolean {
  if (want === null || typeof want !== "object") return Object.is(got, want);
  if (got === null || typeof got !== "object") return false;
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => matchesObject(got[i], w));
  return Object.entries(want).every(([k, w]) => matchesObject((got as Record<string, unknown>)[k], w));
}

function deepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

function inspect(v: unknown): string {
  try {
    return v instanceof Uint8Array ? `Uint8Array[${[...v.subarray(0, 16)].join(",")}]` : JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function expect(actual: unknown, msg?: string) {
  return {
    ...matchers(actual, false, msg),
    not: matchers(actual, true, msg),
    rejects: {
      toThrow: async (m?: string | RegExp) => {
        try {
          await (actual as Promise<unknown>);
        } catch (e) {
          if (!messageMatches(e, m)) assert.fail(`${label(msg)}rejected with '${String((e as Error)?.message)}', expected ${m}`);
          return;
        }
        assert.fail(`${label(msg)}expected the promise to reject`);
      },
    },
    resolves: {
      toBe: async (v: unknown) => matchers(await (actual as Promise<unknown>), false, msg).toBe(v),
      toEqual: async (v: unknown) => matchers(await (actual as Promise<unknown>), false, msg).toEqual(v),
    },
  };
}
