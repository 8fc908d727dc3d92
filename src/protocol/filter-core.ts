/**
 * Subscription filters without a schema library: the canonical spelling
 * that names a filtered subscription, the compiled check, and the limits.
 * Shared by the server (`filter.ts` adds the zod schema) and the client SDK,
 * which must not pull zod into a browser bundle.
 *
 * A publication passes `{ any?, all?, none? }` when it has at least one tag
 * of `any` (if given), every tag of `all`, and no tag of `none`.
 * @module
 */

/** A filter over a publication's tags: at least one of the three lists. */
export interface FilterSpec {
  any?: string[] | undefined;
  all?: string[] | undefined;
  none?: string[] | undefined;
}

/** At most this many tags in one list of a filter, or on one publication. */
export const MAX_TAGS = 32;
/** Longest tag, in characters. */
export const MAX_TAG_LENGTH = 64;
const KEYS = new Set(["any", "all", "none"]);

/** One spelling per filter (sorted, deduplicated), used to name its channel. */
export function canonicalFilter(f: FilterSpec): string {
  const norm = (l?: string[]) => (l ? [...new Set(l)].sort() : undefined);
  return JSON.stringify({ all: norm(f.all), any: norm(f.any), none: norm(f.none) });
}

export type FilterFn = (tags: readonly string[] | undefined) => boolean;

export function compileFilter(f: FilterSpec): FilterFn {
  const any = f.any ? new Set(f.any) : null;
  const all = f.all ?? null;
  const none = f.none ?? null;
  return (tags) => {
    const t = tags ?? [];
    if (any && !t.some((x) => any.has(x))) return false;
    if (all && !all.every((x) => t.includes(x))) return false;
    if (none && t.some((x) => none.includes(x))) return false;
    return true;
  };
}

/**
 * What is wrong with a filter, in the words of the server's schema, or
 * null when it is well formed: a map with at least one of `any`, `all`,
 * `none` and no other key, each a list of 1–32 tags of 1–64 characters.
 */
export function filterError(f: unknown): string | null {
  if (f === null || typeof f !== "object" || Array.isArray(f)) return "a filter is a map {any?, all?, none?}";
  const o = f as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.has(k)) return `unknown key '${k.slice(0, 32)}'; a filter has any, all and none`;
  let lists = 0;
  for (const k of KEYS) {
    const l = o[k];
    if (l === undefined) continue;
    lists++;
    if (!Array.isArray(l)) return `${k}: must be a list of tags`;
    if (l.length === 0 || l.length > MAX_TAGS) return `${k}: must hold 1–${MAX_TAGS} tags`;
    for (const t of l) if (typeof t !== "string" || t.length === 0 || t.length > MAX_TAG_LENGTH) return `${k}: every tag is a string of 1–${MAX_TAG_LENGTH} characters`;
  }
  return lists === 0 ? "a filter needs at least one of any, all, none" : null;
}

/** What is wrong with a publication's tags, or null: at most 32 strings of 1–64 characters. */
export function tagsError(tags: unknown): string | null {
  if (!Array.isArray(tags)) return "tags must be a list of strings";
  if (tags.length > MAX_TAGS) return `at most ${MAX_TAGS} tags`;
  for (const t of tags) if (typeof t !== "string" || t.length === 0 || t.length > MAX_TAG_LENGTH) return `every tag is a string of 1–${MAX_TAG_LENGTH} characters`;
  return null;
}
