/**
 * Checks a decoded JSON value the way the msgpack scanner checks bytes:
 * nesting no deeper than MAX_DEPTH and every string well-formed UTF-16. A
 * lone surrogate has no UTF-8 form, so it would reach msgpack subscribers
 * as bytes they cannot decode. Iterative, so deep input cannot overflow the
 * stack.
 * @module
 */
import { MAX_DEPTH } from "./msgpack-scan.ts";

/** Why `value` cannot be carried, or null. */
export function valueProblem(value: unknown): string | null {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "string") {
      if (!v.isWellFormed()) return "a string holds a lone surrogate (not valid UTF-16)";
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (depth === 0 && Array.isArray(v)) continue; // not a frame; validation says so
    // The frame itself is depth 0, so each field may nest MAX_DEPTH levels, as in msgpack.
    if (depth > MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH}`;
    if (Array.isArray(v)) for (const x of v) stack.push([x, depth + 1]);
    else
      for (const [k, x] of Object.entries(v)) {
        if (!k.isWellFormed()) return "a key holds a lone surrogate (not valid UTF-16)";
        stack.push([x, depth + 1]);
      }
  }
  return null;
}
