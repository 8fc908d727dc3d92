/**
 * Server-side subscription filters over a publication's `tags`:
 * `{ any?: string[], all?: string[], none?: string[] }` — the publication
 * passes when it has at least one tag of `any` (if given), every tag of
 * `all`, and no tag of `none`. Each distinct filter is one channel, checked
 * once per publication, so cost grows with distinct filters, not subscribers.
 * @module
 */
import { z } from "zod";

const tag = z.string().min(1).max(64);
const tagList = z.array(tag).min(1).max(32);

export const Filter = z
  .strictObject({ any: tagList.optional(), all: tagList.optional(), none: tagList.optional() })
  .refine((f) => f.any || f.all || f.none, { message: "a filter needs at least one of any, all, none" });
export type Filter = z.infer<typeof Filter>;

/** Tags a publication may carry. */
export const Tags = z.array(tag).max(32);

/** One spelling per filter (sorted, deduplicated), used to name its channel. */
export function canonicalFilter(f: Filter): string {
  const norm = (l?: string[]) => (l ? [...new Set(l)].sort() : undefined);
  return JSON.stringify({ all: norm(f.all), any: norm(f.any), none: norm(f.none) });
}

export type FilterFn = (tags: readonly string[] | undefined) => boolean;

export function compileFilter(f: Filter): FilterFn {
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
