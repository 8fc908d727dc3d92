/**
 * One publication, with its frames built lazily and at most once per
 * encoding: every subscriber of that encoding gets the same bytes.
 * @module
 */
import { encodePublicationJson, encodePublicationMsgpack, packr, unpackr } from "../protocol/codec.ts";
import type { Payload } from "../protocol/frames.ts";

/** Counts frame encodes; the broadcaster test reads these to prove "once per publication". */
export interface EncodeCounters {
  msgpack: number;
  json: number;
}

export class Publication {
  #raw: Uint8Array | undefined;
  #value: unknown;
  #hasValue: boolean;
  #binary: Uint8Array | undefined;
  #text: string | undefined;

  constructor(
    readonly topic: string,
    readonly seq: number,
    readonly epoch: string,
    readonly ts: number,
    readonly key: string | undefined,
    payload: Payload,
    readonly counters: EncodeCounters,
    readonly tags?: readonly string[] | undefined,
  ) {
    this.#raw = payload.raw;
    this.#hasValue = "value" in payload;
    this.#value = payload.value;
  }

  /** The payload as msgpack bytes (packed once if it came as a value). */
  raw(): Uint8Array {
    return (this.#raw ??= packr.pack(this.#value));
  }

  /** The payload as a value (decoded once if it came as bytes). */
  value(): unknown {
    if (!this.#hasValue) {
      this.#value = unpackr.unpack(this.#raw!);
      this.#hasValue = true;
    }
    return this.#value;
  }

  binary(): Uint8Array {
    if (this.#binary === undefined) {
      this.counters.msgpack++;
      this.#binary = encodePublicationMsgpack(this, this.raw());
    }
    return this.#binary;
  }

  text(): string {
    if (this.#text === undefined) {
      this.counters.json++;
      this.#text = encodePublicationJson(this, this.value());
    }
    return this.#text;
  }

  frame(json: boolean): Uint8Array | string {
    return json ? this.text() : this.binary();
  }
}
