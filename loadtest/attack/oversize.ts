// oversize: WebSocket frames and HTTP bodies far over the limits
// (net.maxPayloadLength, auth.maxBodyBytes), sent at once and trickled, and
// frames whose header claims 2^40 bytes. Each must be refused or closed
// without the server buffering what it was promised.

import { RawConn, rawWebSocket, wsFrame, WsOp } from './raw.js';
import { runPool } from './pool.js';
import { Rand, sleep, type Attack, type Outcome } from './types.js';
import { GRACE_MS } from './limits.js';

const KINDS = ['ws-fast', 'ws-slow', 'ws-claim', 'http-fast', 'http-slow', 'http-claim', 'http-chunked'] as const;

export const oversize: Attack = {
  name: 'oversize',
  description: 'frames and HTTP bodies far over the limits, sent fast and slow',
  run(ctx) {
    const rand = new Rand(ctx.seed ^ 0x0b16);
    const sent: Record<string, number> & { bytes: number } = { bytes: 0 };
    const host = `${ctx.host}:${ctx.port}`;
    const big = rand.bytes(256 * 1024);
    return runPool(
      'oversize',
      ctx,
      {
        perSec: 40 * ctx.intensity,
        concurrency: Math.round(200 * ctx.intensity),
        cap: Math.round(3000 * ctx.intensity),
        one: async (src, i): Promise<Outcome> => {
          const kind = KINDS[i % KINDS.length]!;
          sent[kind] = (sent[kind] ?? 0) + 1;
          if (kind.startsWith('ws-')) {
            const c = await rawWebSocket(ctx.host, ctx.port, ctx.wsPath, src);
            if (!c.upgraded) return c.finish(GRACE_MS);
            if (kind === 'ws-fast') c.write(wsFrame(WsOp.binary, big));
            else if (kind === 'ws-claim') c.write(wsFrame(WsOp.binary, rand.bytes(64), { claimedLength: 2 ** 40 }));
            else {
              const f = wsFrame(WsOp.binary, big.subarray(0, 64 * 1024));
              for (let o = 0; o < f.length && c.open && performance.now() < ctx.deadline; o += 1024) {
                c.write(f.subarray(o, o + 1024));
                sent.bytes += 1024;
                await sleep(50);
              }
            }
            return c.finish(GRACE_MS);
          }
          const c = new RawConn(ctx.host, ctx.port, src);
          if (!(await c.connected)) return c.closed;
          const head = (len: string) => `POST /auth/login HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n${len}\r\n`;
          if (kind === 'http-fast') {
            c.write(head(`Content-Length: ${big.length}\r\n`));
            c.write(big);
          } else if (kind === 'http-claim') c.write(head('Content-Length: 99999999999\r\n'));
          else if (kind === 'http-chunked') {
            c.write(head('Transfer-Encoding: chunked\r\n'));
            for (let k = 0; k < 64 && c.open; k++) c.write(`4000\r\n${'x'.repeat(0x4000)}\r\n`);
          } else {
            c.write(head(`Content-Length: ${big.length}\r\n`));
            for (let o = 0; o < big.length && c.open && performance.now() < ctx.deadline; o += 2048) {
              c.write(big.subarray(o, o + 2048));
              sent.bytes += 2048;
              await sleep(50);
            }
          }
          await c.until(() => c.status !== 0, 5000);
          if (c.status !== 0 && c.open) {
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
