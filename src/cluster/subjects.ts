/**
 * Topic <-> NATS subject mapping and the headers a publication carries on
 * NATS. Pure string work: one concatenation per publish, one slice per
 * received message.
 *
 * A topic maps 1:1 onto a subject under a prefix, with no escaping: the
 * topic syntax (protocol/topic.ts) allows only `[A-Za-z0-9_-:@~+=]` in a
 * token, all of which NATS accepts, and uses NATS's own `.`, `*` and `>`.
 * Two prefixes exist per cluster name, because a publication is written to
 * the stream on one subject and delivered to nodes on another (see nats.ts):
 *
 *   `tgin.<name>.<topic>`  what a node publishes; only the stream listens
 *   `tg.<name>.<topic>`    what the stream republishes once stored; nodes subscribe
 *
 * Keys and tags are arbitrary well-formed strings, so they travel in headers,
 * percent-encoded (a header value cannot hold CR or LF).
 * @module
 */

/** Cluster names become a subject token and part of a stream name. */
export const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,32}$/;

export const HEADER = {
  seq: "Tg-Seq",
  ts: "Tg-Ts",
  key: "Tg-Key",
  tags: "Tg-Tags",
  /** Publications in a batched message (absent: one). */
  count: "Tg-Count",
} as const;

export class Subjects {
  readonly input: string;
  readonly output: string;
  readonly stream: string;

  constructor(readonly name: string) {
    if (!CLUSTER_NAME.test(name)) throw new Error(`cluster name '${name}' must be 1-32 of [A-Za-z0-9_-]`);
    this.input = `tgin.${name}.`;
    this.output = `tg.${name}.`;
    this.stream = `TICKGATE_${name}`;
  }

  /** Subject a publication to `topic` is written to. */
  in(topic: string): string {
    return this.input + topic;
  }

  /** Subject a node subscribes to for a topic or pattern. */
  out(topicOrPattern: string): string {
    return this.output + topicOrPattern;
  }

  /** Topic of a subject from either side. */
  topicOf(subject: string): string {
    return subject.startsWith(this.output) ? subject.slice(this.output.length) : subject.slice(this.input.length);
  }
}

export const encodeKey = (key: string): string => encodeURIComponent(key);
export const decodeKey = (v: string): string => decodeURIComponent(v);
export const encodeTags = (tags: readonly string[]): string => tags.map(encodeURIComponent).join(",");
export const decodeTags = (v: string): string[] => (v === "" ? [] : v.split(",").map(decodeURIComponent));
