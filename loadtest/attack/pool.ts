// The loop every attack shares: start `one` at up to `perSec` a second, at
// most `concurrency` at a time and `cap` in all, until the deadline; then wait
// for those in flight (each must account for its own sockets, see RawConn.finish).

import { Sources, sleep, tally, type AttackContext, type AttackReport, type Outcome } from './types.js';

export interface PoolOptions {
  perSec: number;
  concurrency: number;
  cap: number;
  /** Runs one attacker connection from `src`; resolves with how it ended (null: not a socket, e.g. skipped). */
  one(src: string, i: number): Promise<Outcome | Outcome[] | null>;
}

export async function runPool(name: string, ctx: AttackContext, o: PoolOptions, sent: Record<string, number> = {}): Promise<AttackReport> {
  const sources = new Sources();
  const outcomes: Record<string, number> = {};
  let started = 0;
  let inFlight = 0;
  const all: Promise<void>[] = [];
  const t0 = performance.now();
  while (performance.now() < ctx.deadline && started < o.cap) {
    // Pace: started / elapsed <= perSec.
    const due = t0 + (started / o.perSec) * 1000;
    const now = performance.now();
    if (due > now || inFlight >= o.concurrency) {
      await sleep(Math.max(1, Math.min(due - now, 50)));
      continue;
    }
    const i = started++;
    inFlight++;
    all.push(
      o.one(sources.next(), i).then(
        (r) => {
          inFlight--;
          if (r === null) return;
          for (const x of Array.isArray(r) ? r : [r]) tally(outcomes, x);
        },
        (e: Error) => {
          inFlight--;
          tally(outcomes, 'tcp:reset');
          ctx.log(`${name}: ${e.message}`);
        },
      ),
    );
  }
  await Promise.all(all);
  let sockets = 0;
  for (const v of Object.values(outcomes)) sockets += v;
  return { name, sockets, outcomes, sent };
}
