// A minimal typed event emitter that runs in browsers and Node (no node:events).

export type Listener<T> = (payload: T) => void;

// Listener arrays are copy-on-write: emit() iterates the array it started with
// even when a listener subscribes or unsubscribes (once()) meanwhile, and
// allocates nothing.
export class Emitter<Events extends object> {
  private readonly listeners: { [K in keyof Events]?: readonly Listener<Events[K]>[] } = {};

  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    this.listeners[event] = [...(this.listeners[event] ?? []), fn];
    return this;
  }

  off<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    const list = this.listeners[event];
    if (list) this.listeners[event] = list.filter((f) => f !== fn);
    return this;
  }

  /** Resolves with the next payload of `event`. */
  once<K extends keyof Events>(event: K): Promise<Events[K]> {
    return new Promise((resolve) => {
      const fn: Listener<Events[K]> = (p) => {
        this.off(event, fn);
        resolve(p);
      };
      this.on(event, fn);
    });
  }

  /**
   * Calls every listener of `event`. A listener that throws does not stop the
   * others or the protocol state machine: its error is rethrown from a timer
   * (an uncaught exception, as with any event handler).
   */
  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.listeners[event];
    if (!list || list.length === 0) return;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(payload);
      } catch (e) {
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
  }

  /** Whether anyone listens to `event` (skip building payloads nobody reads). */
  protected listens<K extends keyof Events>(event: K): boolean {
    const list = this.listeners[event];
    return list !== undefined && list.length > 0;
  }
}
