/**
 * A small typed event emitter whose listeners can never break the caller:
 * a throwing listener is reported through `onListenerError` and the other
 * listeners still run.
 * @internal
 * @module
 */

/** Any listener signature: each event declares its own. @internal */
export type Listener = (...args: any[]) => void;

/** @internal */
export class Emitter<Events extends { [K in keyof Events]: Listener }> {
  readonly #listeners = new Map<keyof Events, Set<Listener>>();

  constructor(readonly onListenerError: (event: keyof Events, err: unknown) => void) {}

  on<K extends keyof Events>(event: K, fn: Events[K]): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => this.off(event, fn);
  }

  off<K extends keyof Events>(event: K, fn: Events[K]): void {
    this.#listeners.get(event)?.delete(fn);
  }

  has(event: keyof Events): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    // A copy, so a listener that removes itself or adds another does not skip anyone.
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (e) {
        this.onListenerError(event, e);
      }
    }
  }
}
