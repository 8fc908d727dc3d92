/**
 * The `welcome` frame every connection gets first. Everything in it but
 * the session id and the time is the same for every connection of one
 * encoding and client type while the request methods do not change, so
 * that part is encoded once and kept; per connection, only `t`, `session`
 * and `ts` are encoded and put in front. The bytes are exactly those of
 * encoding the whole frame. Per connection: one small encode and one copy.
 * @module
 */
import { encodeFrame } from "../protocol/codec.ts";
import type { ClientType, Encoding, WelcomeFrame } from "../protocol/frames.ts";

/** The welcome's fields after `t`, `session` and `ts`, in wire order. */
export type WelcomeRest = Omit<WelcomeFrame, "t" | "session" | "ts">;

interface Encoded {
  /** msgpack: the entries without the map header, and how many. */
  entries: Uint8Array;
  count: number;
  /** JSON: the members after `{`. */
  members: string;
}

/** Kept encodings are few (encoding × client type × method sets); past this many, start over. */
const MAX_KEPT = 64;

export class WelcomeFrames {
  readonly #kept = new Map<string, Encoded>();

  /**
   * The welcome for a session; `rest(...)` is called only when its
   * encoding is not kept yet, `methods` is its part that can change.
   */
  frame(session: string, ts: number, encoding: Encoding, client: ClientType, methods: readonly string[], rest: () => WelcomeRest): Uint8Array | string {
    const json = encoding === "json";
    const key = `${encoding}|${client}|${methods.join("\u0000")}`;
    let e = this.#kept.get(key);
    if (e === undefined) {
      if (this.#kept.size >= MAX_KEPT) this.#kept.clear();
      this.#kept.set(key, (e = encodeRest(rest(), json)));
    }
    const head = { t: "welcome", session, ts };
    if (e.count > 12) return encodeFrame({ ...head, ...rest() } as WelcomeFrame, json);
    if (json) return `${JSON.stringify(head).slice(0, -1)},${e.members}`;
    const h = encodeFrame(head as WelcomeFrame, false) as Uint8Array;
    return joinMaps(h, e);
  }
}

function encodeRest(rest: WelcomeRest, json: boolean): Encoded {
  const count = Object.keys(rest).length;
  if (json) return { entries: new Uint8Array(0), count, members: (encodeFrame(rest as WelcomeFrame, true) as string).slice(1) };
  const bytes = encodeFrame(rest as WelcomeFrame, false) as Uint8Array;
  // A fixmap (≤ 15 entries): one header byte, then the entries.
  if ((bytes[0]! & 0xf0) !== 0x80) throw new Error("welcome: expected a msgpack fixmap");
  return { entries: bytes.slice(1), count, members: "" };
}

/** One fixmap of `head`'s entries then `rest`'s. */
function joinMaps(head: Uint8Array, rest: Encoded): Uint8Array {
  const headCount = head[0]! & 0x0f;
  const out = new Uint8Array(head.length + rest.entries.length);
  out.set(head, 0);
  out[0] = 0x80 | (headCount + rest.count);
  out.set(rest.entries, head.length);
  return out;
}
