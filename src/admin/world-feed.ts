// The gateway's side of the world viewer: asks a zone worker for its admin
// snapshot or one entity's state over the worker's message port (see
// zone/admin-view.ts) and shares one answer among every viewer asking within
// CACHE_MS, so the zone's cost does not grow with the number of dashboards.

import type { Worker } from 'node:worker_threads';
import type { AdminAnswer, AdminEntity } from '../zone/admin-view.js';
import type { ZoneSet } from '../zone/host.js';

/** Viewers asking within this long of the last snapshot get the same one (5 a second per zone at most). */
export const CACHE_MS = 200;
const ANSWER_TIMEOUT_MS = 2000;

interface Cached {
  at: number;
  buf: ArrayBuffer | null;
  pending: Promise<ArrayBuffer | null> | null;
}

export class WorldFeed {
  private nextReq = 1;
  private readonly cache = new Map<number, Cached>();

  constructor(
    private readonly zones: ZoneSet,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Snapshots taken from the zones so far (tests, the bench). */
  asked = 0;

  /** The zone's latest snapshot (at most CACHE_MS old); null when the zone is not running or did not answer. */
  snapshot(index: number): Promise<ArrayBuffer | null> {
    let c = this.cache.get(index);
    if (!c) {
      c = { at: -Infinity, buf: null, pending: null };
      this.cache.set(index, c);
    }
    if (c.pending) return c.pending;
    if (c.buf && this.now() - c.at < CACHE_MS) return Promise.resolve(c.buf);
    const entry = c;
    this.asked++;
    entry.pending = this.ask(index, { admin: 'snapshot' }).then((a) => {
      entry.pending = null;
      if (a && a.admin === 'snapshot' && a.buf) {
        entry.buf = a.buf;
        entry.at = this.now();
      }
      return entry.buf;
    });
    return entry.pending;
  }

  /** One entity's state from its zone; null when unknown. */
  async entity(index: number, id: number): Promise<AdminEntity | null> {
    const a = await this.ask(index, { admin: 'entity', id });
    return a && a.admin === 'entity' ? a.entity : null;
  }

  private ask(index: number, body: { admin: 'snapshot' } | { admin: 'entity'; id: number }): Promise<AdminAnswer | null> {
    const w: Worker | null | undefined = this.zones.hosts[index]?.worker;
    if (!w) return Promise.resolve(null);
    const req = this.nextReq++;
    return new Promise((resolve) => {
      const done = (a: AdminAnswer | null) => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('exit', onExit);
        resolve(a);
      };
      const onMessage = (m: unknown) => {
        if (typeof m === 'object' && m !== null && (m as { req?: unknown }).req === req) done(m as AdminAnswer);
      };
      const onExit = () => done(null);
      const timer = setTimeout(() => done(null), ANSWER_TIMEOUT_MS);
      timer.unref();
      w.on('message', onMessage);
      w.on('exit', onExit);
      w.postMessage({ ...body, req });
    });
  }
}
