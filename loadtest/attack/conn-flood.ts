// conn-flood: thousands of TCP connections from 127.0.0.2-250 that open and
// sit idle, then send garbage. The server must close every one of them
// (uWS's HTTP idle timeout, ~10 s) without the honest players noticing.

import { RawConn } from './raw.js';
import { runPool } from './pool.js';
import { Rand, sleep, type Attack } from './types.js';
import { GRACE_MS } from './limits.js';

export const connFlood: Attack = {
  name: 'conn-flood',
  description: 'thousands of idle TCP connections that then send garbage',
  run(ctx) {
    const rand = new Rand(ctx.seed ^ 0xc0ffee);
    const sent = { garbageBytes: 0 };
    return runPool(
      'conn-flood',
      ctx,
      {
        perSec: 500 * ctx.intensity,
        concurrency: Math.round(2000 * ctx.intensity),
        cap: Math.round(20_000 * ctx.intensity),
        one: async (src) => {
          const c = new RawConn(ctx.host, ctx.port, src);
          if (!(await c.connected)) return c.closed;
          await sleep(Math.min(4000, ctx.deadline - performance.now()));
          const g = rand.bytes(16 + rand.int(240));
          if (c.write(g)) sent.garbageBytes += g.length;
          return c.finish(GRACE_MS);
        },
      },
      sent,
    );
  },
};
