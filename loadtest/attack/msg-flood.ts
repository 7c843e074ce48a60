// msg-flood: logged-in guests sending moves and chat as fast as their
// sockets take them. The per-session token buckets and the per-address cost
// budget drop the excess; a sender that keeps going is closed with 4004. Each
// closed flooder is replaced by a new one (another login) until the deadline.

import { ClientMessageBuilder } from '../../src/protocol/build.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { ChatChannel } from '../../src/protocol/generated/mmo/chat-channel.js';
import { rawWebSocket, wsFrame, WsOp } from './raw.js';
import { runPool } from './pool.js';
import { sleep, type Attack, type Outcome } from './types.js';
import { GRACE_MS } from './limits.js';

export const msgFlood: Attack = {
  name: 'msg-flood',
  description: 'logged-in clients sending moves and chat as fast as they can',
  run(ctx) {
    const b = new ClientMessageBuilder();
    const sent = { frames: 0, welcomed: 0 };
    return runPool(
      'msg-flood',
      ctx,
      {
        perSec: 10 * ctx.intensity,
        concurrency: Math.max(1, Math.round(40 * ctx.intensity)),
        cap: Math.round(600 * ctx.intensity),
        one: async (src, i): Promise<Outcome> => {
          const c = await rawWebSocket(ctx.host, ctx.port, ctx.wsPath, src, true);
          if (!c.upgraded) return c.finish(GRACE_MS);
          c.write(wsFrame(WsOp.binary, b.hello(PROTOCOL_VERSION, null, `f${i % 1_000_000}`, 'attack')));
          if (!(await c.until(() => c.welcome !== null, 10_000))) return c.finish(GRACE_MS);
          sent.welcomed++;
          let seq = 1;
          while (c.open && performance.now() < ctx.deadline) {
            const batch: Buffer[] = [];
            for (let k = 0; k < 100; k++, seq++) {
              batch.push(wsFrame(WsOp.binary, k % 10 === 9 ? b.chat(seq, ChatChannel.Zone, `spam ${seq}`) : b.move(seq, 100 + (seq % 7), 100 + (seq % 5))));
            }
            sent.frames += batch.length;
            if (!c.write(Buffer.concat(batch))) await new Promise((r) => c.socket.once('drain', r));
            else await sleep(1);
          }
          return c.finish(GRACE_MS);
        },
      },
      sent,
    );
  },
};
