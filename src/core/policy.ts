/**
 * Per-topic policies: the first rule whose pattern covers a topic (or a
 * subscription's pattern, read literally) wins, over the default policy.
 * @module
 */
import { matches } from "../protocol/topic.ts";
import type { Options, Policy } from "./options.ts";

/** Presence is state, not a stream: a dashboard opened later should see who is online. */
const BUILT_IN: Options["policies"] = [{ match: "devices.*.presence", retain: true, publish: "server" }];

export class PolicyTable {
  readonly #rules: Options["policies"];
  readonly #default: Policy;
  readonly #cache = new Map<string, Policy>();
  readonly #resolved: Policy[];

  constructor(opts: Options) {
    // Built-in rules come first: presence must stay server-only and retained
    // whatever broader rule (e.g. `devices.>`) an operator writes.
    this.#rules = [...BUILT_IN, ...opts.policies];
    this.#default = opts.defaultPolicy;
    this.#resolved = this.#rules.map((r) => {
      const { match: _match, ...fields } = r;
      return Object.freeze({ ...this.#default, ...fields });
    });
  }

  /** Drops a topic's or pattern's cached policy (evicted, or its last subscription gone). */
  forget(name: string): void {
    this.#cache.delete(name);
  }

  /** Names with a cached policy (the hardening tests check it returns to its baseline). */
  get cached(): number {
    return this.#cache.size;
  }

  /** Policy for a topic or pattern; cached, so the publish path pays a Map lookup. */
  for(name: string): Policy {
    let p = this.#cache.get(name);
    if (p) return p;
    p = this.#default;
    for (let i = 0; i < this.#rules.length; i++) {
      if (matches(this.#rules[i]!.match, name)) {
        p = this.#resolved[i]!;
        break;
      }
    }
    if (this.#cache.size > 100_000) this.#cache.clear();
    this.#cache.set(name, p);
    return p;
  }
}
