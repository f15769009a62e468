/**
 * A small typed event emitter for browsers and Node: `on`, `off`, `once` over an event map
 * type (event name → payload). A listener that throws does not break the emitter or the
 * other listeners: its error is handed to `onListenerError`.
 */

export type Listener<T> = (event: T) => void;

/** `Events` maps each event name to its payload type; interfaces work (no index signature needed). */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(name, listener);
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    const set = this.listeners.get(name);
    if (set === undefined) return;
    set.delete(listener as Listener<never>);
    // A listener added through once() is registered under a wrapper that remembers it.
    for (const registered of set) {
      if ((registered as OnceWrapper).original === listener) set.delete(registered);
    }
    if (set.size === 0) this.listeners.delete(name);
  }

  /** A listener called for the next event only; returns a function that removes it. */
  once<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    const wrapper: Listener<Events[K]> & OnceWrapper = Object.assign(
      (event: Events[K]) => {
        this.off(name, wrapper);
        listener(event);
      },
      { original: listener as unknown },
    );
    return this.on(name, wrapper);
  }

  /** Number of listeners of an event; for tests and diagnostics. */
  listenerCount<K extends keyof Events>(name: K): number {
    return this.listeners.get(name)?.size ?? 0;
  }

  protected emit<K extends keyof Events>(name: K, event: Events[K]): void {
    const set = this.listeners.get(name);
    if (set === undefined) return;
    // A copy: listeners may add or remove listeners while being called.
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(event);
      } catch (err) {
        this.onListenerError(name, err);
      }
    }
  }

  /** What happens to an error a listener threw; by default it is rethrown asynchronously. */
  protected onListenerError(_name: keyof Events, err: unknown): void {
    queueMicrotask(() => {
      throw err;
    });
  }
}

interface OnceWrapper {
  original?: unknown;
}
