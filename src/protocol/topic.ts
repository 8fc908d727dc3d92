/**
 * Topic names and NATS-style patterns.
 *
 * A topic is dot-separated tokens (`prices.BTC-USD`). A pattern may use `*`
 * for exactly one token and `>` as the last token for one or more tokens.
 * @module
 */

export const MAX_TOPIC_LENGTH = 256;
export const MAX_TOPIC_TOKENS = 16;

const TOKEN = /^[A-Za-z0-9_\-:@~+=]+$/;

/** Whether `c` may appear in a token: [A-Za-z0-9_-:@~+=] (as {@link TOKEN}). */
function tokenChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 58) || c === 95 || c === 45 || c === 64 || c === 126 || c === 43 || c === 61;
}

/**
 * The common case, a plain topic, in one pass without splitting or a
 * regex; `false` sends the name to the full check, which says what is wrong
 * (or handles wildcards).
 */
function plainTopic(name: string): boolean {
  const n = name.length;
  if (n === 0 || n > MAX_TOPIC_LENGTH) return false;
  let tokens = 1;
  let prev = 46; // as if after a dot: an empty first token fails
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c === 46) {
      if (prev === 46 || ++tokens > MAX_TOPIC_TOKENS) return false;
    } else if (!tokenChar(c)) return false;
    prev = c;
  }
  return prev !== 46;
}

/** Why a topic or pattern is invalid, or `null` when it is fine. */
export function topicError(name: string, allowWildcards: boolean): string | null {
  if (typeof name === "string" && plainTopic(name)) return null;
  if (typeof name !== "string" || name.length === 0) return "topic is empty";
  if (name.length > MAX_TOPIC_LENGTH) return `topic is longer than ${MAX_TOPIC_LENGTH} characters`;
  const tokens = name.split(".");
  if (tokens.length > MAX_TOPIC_TOKENS) return `topic has more than ${MAX_TOPIC_TOKENS} tokens`;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === "*" || t === ">") {
      if (!allowWildcards) return `wildcard '${t}' is not allowed here`;
      if (t === ">" && i !== tokens.length - 1) return "'>' must be the last token";
      continue;
    }
    if (t.length === 0) return "topic has an empty token";
    if (!TOKEN.test(t)) return `token '${t.slice(0, 32)}' has characters outside [A-Za-z0-9_-:@~+=]`;
  }
  return null;
}

export function isPattern(name: string): boolean {
  return name === "*" || name === ">" || name.includes("*") || name.endsWith(">");
}

/**
 * Whether `topic` (tokens only, or itself a pattern treated literally) is
 * matched by `pattern`. Treating a pattern as literal text lets policies
 * written for `prices.>` apply to a subscription to `prices.*`.
 */
export function matches(pattern: string, topic: string): boolean {
  const p = pattern.split(".");
  const t = topic.split(".");
  for (let i = 0; i < p.length; i++) {
    const pt = p[i]!;
    if (pt === ">") return t.length > i;
    if (i >= t.length) return false;
    if (pt !== "*" && pt !== t[i]) return false;
  }
  return p.length === t.length;
}
