/** Minimal `--flag value` parsing for the bench scripts; no dependency needed for a handful of flags. */

/** The value after `name` in argv, or `fallback`. */
export function argValue(argv: readonly string[], name: string, fallback: string): string {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`${name} needs a value`);
  return v;
}

export function argFlag(argv: readonly string[], name: string): boolean {
  return argv.includes(name);
}

/** A positive integer flag, checked. */
export function argInt(argv: readonly string[], name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = argValue(argv, name, String(fallback));
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got '${raw}'`);
  return n;
}

export function argNumber(argv: readonly string[], name: string, fallback: number, min: number, max: number): number {
  const raw = argValue(argv, name, String(fallback));
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${name} must be a number in [${min}, ${max}], got '${raw}'`);
  return n;
}

/** Flags every bench script understands; anything else is a typo worth stopping for. */
export function rejectUnknown(argv: readonly string[], known: readonly string[]): void {
  for (const a of argv) if (a.startsWith("--") && !known.includes(a)) throw new Error(`unknown flag ${a}; known: ${known.join(" ")}`);
}
