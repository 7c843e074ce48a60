// auth-bruteforce: password guessing against one registered account from
// many addresses over POST /auth/login, and WebSocket Hellos carrying forged
// and tampered tokens. Guesses must be refused (401), throttled (429: the
// address bucket, or too_many_guesses from the login guess limit before any
// hash) or shed (503 busy) and every forged token refused with 4102. Midway,
// the account's owner logs in with the right password from the address it
// registered from (127.0.2.1, outside the attackers' and the bots' ranges):
// the guessing must not lock the owner out (sent.ownerRefused).

import { ClientMessageBuilder } from '../../src/protocol/build.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { rawWebSocket, wsFrame, WsOp } from './raw.js';
import { rawPost } from './http.js';
import { runPool } from './pool.js';
import { Rand, sleep, type Attack, type Outcome } from './types.js';
import { GRACE_MS } from './limits.js';

export const authBruteforce: Attack = {
  name: 'auth-bruteforce',
  description: 'password guessing over /auth/login from many addresses, forged and tampered tokens in Hello',
  async run(ctx) {
    const rand = new Rand(ctx.seed ^ 0xa417);
    const b = new ClientMessageBuilder();
    const victim = `victim${ctx.seed % 1000}`;
    const sent: Record<string, number> = { guesses: 0, forgedTokens: 0, tamperedTokens: 0, cracked: 0, ownerLogins: 0, ownerRefused: 0 };
    const password = 'correct horse battery staple';
    await rawPost(ctx.host, ctx.port, OWNER_ADDRESS, '/auth/register', JSON.stringify({ name: victim, password }));
    const midway = (ctx.deadline - performance.now()) / 2;
    const owner = sleep(midway).then(async () => {
      const r = await rawPost(ctx.host, ctx.port, OWNER_ADDRESS, '/auth/login', JSON.stringify({ name: victim, password }));
      sent.ownerLogins!++;
      if (r.status !== 200) {
        sent.ownerRefused!++;
        ctx.log(`auth-bruteforce: the owner's login was answered ${r.outcome}`);
      }
    });
    // A real token to tamper with: a guest's.
    const g = await rawPost(ctx.host, ctx.port, '127.0.0.249', '/auth/guest', '{}');
    let real = '';
    try {
      real = (JSON.parse(g.body) as { token?: string }).token ?? '';
    } catch {
      real = '';
    }
    const report = await runPool(
      'auth-bruteforce',
      ctx,
      {
        perSec: 200 * ctx.intensity,
        concurrency: Math.round(300 * ctx.intensity),
        cap: Math.round(12_000 * ctx.intensity),
        one: async (src, i): Promise<Outcome> => {
          if (i % 4 !== 3) {
            sent.guesses!++;
            const r = await rawPost(ctx.host, ctx.port, src, '/auth/login', JSON.stringify({ name: victim, password: `guess-${rand.u32().toString(36)}` }));
            if (r.status === 200) sent.cracked!++;
            return r.outcome;
          }
          const c = await rawWebSocket(ctx.host, ctx.port, ctx.wsPath, src);
          if (!c.upgraded) return c.finish(GRACE_MS);
          let token: string;
          if (real && i % 8 === 7) {
            // One character changed in the signature.
            const k = real.length - 1 - rand.int(Math.min(10, real.length - 1));
            token = real.slice(0, k) + (real[k] === 'A' ? 'B' : 'A') + real.slice(k + 1);
            sent.tamperedTokens!++;
          } else {
            token = rand.bytes(48).toString('base64url');
            sent.forgedTokens!++;
          }
          c.write(wsFrame(WsOp.binary, b.hello(PROTOCOL_VERSION, token, null, 'attack')));
          return c.finish(GRACE_MS);
        },
      },
      sent,
    );
    await owner;
    return report;
  },
};

/** Where the victim account's owner registers and logs in from (not an attacker's or a bot's address). */
const OWNER_ADDRESS = '127.0.2.1';
