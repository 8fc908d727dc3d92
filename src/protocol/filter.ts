/**
 * Server-side subscription filters over a publication's `tags`:
 * `{ any?: string[], all?: string[], none?: string[] }` — the publication
 * passes when it has at least one tag of `any` (if given), every tag of
 * `all`, and no tag of `none`. Each distinct filter is one channel, checked
 * once per publication, so cost grows with distinct filters, not subscribers.
 *
 * The zod schemas live here; the canonical form and the check itself are in
 * `filter-core.ts`, which the client SDK shares without zod.
 * @module
 */
import { z } from "zod";
import { MAX_TAG_LENGTH, MAX_TAGS } from "./filter-core.ts";

export { canonicalFilter, compileFilter, filterError, tagsError, type FilterFn, type FilterSpec } from "./filter-core.ts";

const tag = z.string().min(1).max(MAX_TAG_LENGTH);
const tagList = z.array(tag).min(1).max(MAX_TAGS);

export const Filter = z
  .strictObject({ any: tagList.optional(), all: tagList.optional(), none: tagList.optional() })
  .refine((f) => f.any || f.all || f.none, { message: "a filter needs at least one of any, all, none" });
export type Filter = z.infer<typeof Filter>;

/** Tags a publication may carry. */
export const Tags = z.array(tag).max(MAX_TAGS);
