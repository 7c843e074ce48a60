// Waiting for one SDK event in a test: every wait ends (a rejection naming the
// event after `ms`), and the listener is removed either way.
import type { ClientEvents, MmoClient } from '../../src/client/index.js';

/** The next `event` matching pred, or a rejection after `ms`. */
export function nextEvent<K extends keyof ClientEvents>(c: MmoClient, event: K, pred: (p: ClientEvents[K]) => boolean = () => true, ms = 5000): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off(event, fn);
      reject(new Error(`timed out waiting for '${String(event)}'`));
    }, ms);
    const fn = (p: ClientEvents[K]): void => {
      if (!pred(p)) return;
      clearTimeout(timer);
      c.off(event, fn);
      resolve(p);
    };
    c.on(event, fn);
  });
}
