// slow-readers: logged-in guests in the crowd that stop reading. Half go
// silent too (uWS's idle timeout must close them); half keep sending a Ping
// every 2 s so only the send backlog can betray them (lag handling drops
// their deltas; net.maxBackpressure closes them with 4201).

import { ClientMessageBuilder } from '../../src/protocol/build.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { rawWebSocket, wsFrame, WsOp } from './raw.js';
import { runPool } from './pool.js';
import { sleep, type Attack, type Outcome } from './types.js';
import { GRACE_MS } from './limits.js';

export const slowReaders: Attack = {
  name: 'slow-readers',
  description: 'logged-in clients in a crowd that never read (half silent, half pinging)',
  run(ctx) {
    const b = new ClientMessageBuilder();
    const sent = { welcomed: 0, pings: 0 };
    return runPool(
      'slow-readers',
      ctx,
      {
        perSec: 20 * ctx.intensity,
        concurrency: Math.max(2, Math.round(60 * ctx.intensity)),
        cap: Math.max(2, Math.round(60 * ctx.intensity)),
        one: async (src, i): Promise<Outcome> => {
          const c = await rawWebSocket(ctx.host, ctx.port, ctx.wsPath, src, true);
          if (!c.upgraded) return c.finish(GRACE_MS);
          c.write(wsFrame(WsOp.binary, b.hello(PROTOCOL_VERSION, null, `s${i % 1_000_000}`, 'attack')));
          if (!(await c.until(() => c.welcome !== null, 10_000))) return c.finish(GRACE_MS);
          sent.welcomed++;
          c.pause();
          const pinging = i % 2 === 1;
          while (c.open && performance.now() < ctx.deadline) {
            await sleep(Math.min(2000, ctx.deadline - performance.now()));
            if (pinging && !c.socket.destroyed) {
              c.write(wsFrame(WsOp.binary, b.ping(Date.now() & 0x7fffffff)));
              sent.pings++;
            }
          }
          return c.finish(GRACE_MS);
        },
      },
      sent,
    );
  },
};
