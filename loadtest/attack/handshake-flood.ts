// handshake-flood: thousands of WebSocket upgrades a second that go wrong on
// purpose: heads that never finish, no or bad Sec-WebSocket-Key, a wrong
// version, wrong paths, and valid upgrades that then never say Hello (and
// never answer a ping). Each kind must end in a refusal or a close.

import { RawConn, upgradeRequest } from './raw.js';
import { runPool } from './pool.js';
import type { Attack, Outcome } from './types.js';
import { GRACE_MS } from './limits.js';

const KINDS = ['incomplete', 'no-key', 'bad-key', 'bad-version', 'wrong-path', 'root-path', 'silent-upgrade'] as const;

export const handshakeFlood: Attack = {
  name: 'handshake-flood',
  description: 'upgrades that never finish, bad keys, wrong versions and paths, silent upgrades: a thousand a second',
  run(ctx) {
    const sent: Record<string, number> = Object.fromEntries(KINDS.map((k) => [k, 0]));
    const host = `${ctx.host}:${ctx.port}`;
    return runPool(
      'handshake-flood',
      ctx,
      {
        perSec: 1000 * ctx.intensity,
        concurrency: Math.round(1500 * ctx.intensity),
        cap: Math.round(60_000 * ctx.intensity),
        one: async (src, i): Promise<Outcome> => {
          const kind = KINDS[i % KINDS.length]!;
          const c = new RawConn(ctx.host, ctx.port, src);
          if (!(await c.connected)) return c.closed;
          sent[kind]!++;
          switch (kind) {
            case 'incomplete':
              c.write(upgradeRequest(ctx.wsPath, host).slice(0, -2));
              break;
            case 'no-key':
              c.write(upgradeRequest(ctx.wsPath, host, { key: null }));
              break;
            case 'bad-key':
              c.write(upgradeRequest(ctx.wsPath, host, { key: 'not-a-key!' }));
              break;
            case 'bad-version':
              c.write(upgradeRequest(ctx.wsPath, host, { version: '8' }));
              break;
            case 'wrong-path':
              c.write(upgradeRequest(`${ctx.wsPath}x/../../etc/passwd`, host));
              break;
            case 'root-path':
              c.write(upgradeRequest('/', host));
              break;
            case 'silent-upgrade':
              c.write(upgradeRequest(ctx.wsPath, host));
              break;
          }
          // An answered request whose socket the server keeps (keep-alive) is done: the attacker hangs up.
          await c.until(() => c.status !== 0 && c.status !== 101, 2000);
          if (c.status !== 0 && c.status !== 101 && c.open) {
            const status = c.status;
            c.socket.destroy();
            await c.closed;
            return `http:${status}`;
          }
          return c.finish(GRACE_MS);
        },
      },
      sent,
    );
  },
};
