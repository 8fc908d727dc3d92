/**
 * Topic grants: which patterns a connection may subscribe to, publish to
 * and call requests on. A subscription pattern is allowed only if one grant
 * covers every topic the pattern can match, so `>` is refused when only
 * `prices.*` is granted.
 * @module
 */
import { matches, topicError } from "../../protocol/topic.ts";

export interface Grants {
  subscribe: readonly string[];
  publish: readonly string[];
  request: readonly string[];
  /** May read operator endpoints (/stats, /metrics, /api/topics). */
  admin: boolean;
}

export const ALL: Grants = Object.freeze({ subscribe: [">"], publish: [">"], request: [">"], admin: true });

/** Whether grant pattern `a` matches every topic pattern `p` can match. */
export function covers(a: string, p: string): boolean {
  const at = a.split(".");
  const pt = p.split(".");
  for (let i = 0; i < at.length; i++) {
    if (at[i] === ">") return pt.length > i;
    if (i >= pt.length) return false;
    if (pt[i] === ">") return false; // p reaches arbitrarily deep; a stops here
    if (at[i] === "*") continue;
    if (at[i] !== pt[i]) return false; // includes p's '*' against a literal
  }
  return pt.length === at.length;
}

export function maySubscribe(g: Grants, pattern: string): boolean {
  for (const a of g.subscribe) if (covers(a, pattern)) return true;
  return false;
}

export function mayPublish(g: Grants, topic: string): boolean {
  // `>` (everything, the anonymous default) and exact grants skip the token walk: this runs per publication.
  for (const a of g.publish) if (a === ">" || a === topic || matches(a, topic)) return true;
  return false;
}

export function mayRequest(g: Grants, method: string): boolean {
  for (const a of g.request) if (a === ">" || a === method || matches(a, method)) return true;
  return false;
}

/**
 * Fills `{claim}` placeholders from token claims, e.g. `devices.{sub}.>`.
 * A claim that is missing or is not a single valid topic token drops the
 * whole grant: a value with dots or wildcards could widen it.
 */
export function expandGrants(patterns: readonly string[], claims: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    let ok = true;
    const expanded = p.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
      const v = claims[name];
      if (typeof v !== "string" || v.includes(".") || topicError(v, false) !== null) {
        ok = false;
        return "_";
      }
      return v;
    });
    if (ok && topicError(expanded, true) === null) out.push(expanded);
  }
  return out;
}
