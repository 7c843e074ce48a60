// garbage: malformed and hostile frames over raw WebSockets: random bytes,
// truncated FlatBuffers, absurd root offsets and vector lengths, text frames,
// fragments that never end, unmasked frames, reserved opcodes, ping floods,
// and garbage after a valid Hello. Each socket must be closed with a code
// (the protocol's 4000/4001, or uWS's own) and the server must not crash.

import { ClientMessageBuilder } from '../../src/protocol/build.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { rawWebSocket, wsFrame, WsOp } from './raw.js';
import { runPool } from './pool.js';
import { Rand, sleep, type Attack, type Outcome } from './types.js';
import { GRACE_MS } from './limits.js';

const KINDS = ['random', 'truncated', 'absurd-offset', 'absurd-vector', 'text', 'fragments', 'unmasked', 'bad-opcode', 'ping-flood', 'after-hello'] as const;

/** A Resume whose token vector claims 2^31 - 1 bytes. */
export function absurdVectorResume(b: ClientMessageBuilder): Uint8Array {
  const token = new Uint8Array(8).fill(0xab);
  const m = b.resume(PROTOCOL_VERSION, 1, token, 0).slice();
  for (let i = 4; i + 12 <= m.length; i++) {
    if (m[i] === 8 && m[i + 1] === 0 && m[i + 2] === 0 && m[i + 3] === 0 && m[i + 4] === 0xab && m[i + 11] === 0xab) {
      new DataView(m.buffer).setUint32(i, 0x7fffffff, true);
      return m;
    }
  }
  throw new Error('token vector not found in the Resume bytes');
}

export const garbage: Attack = {
  name: 'garbage',
  description: 'random, truncated and absurd FlatBuffers, text, fragments, unmasked frames, ping floods over raw sockets',
  run(ctx) {
    const rand = new Rand(ctx.seed ^ 0x6a7ba6e);
    const b = new ClientMessageBuilder();
    const sent: Record<string, number> = Object.fromEntries(KINDS.map((k) => [k, 0]));
    return runPool(
      'garbage',
      ctx,
      {
        perSec: 150 * ctx.intensity,
        concurrency: Math.round(600 * ctx.intensity),
        cap: Math.round(9000 * ctx.intensity),
        one: async (src, i): Promise<Outcome> => {
          const kind = KINDS[i % KINDS.length]!;
          const c = await rawWebSocket(ctx.host, ctx.port, ctx.wsPath, src);
          if (!c.upgraded) return c.finish(GRACE_MS);
          sent[kind]!++;
          const hello = b.hello(PROTOCOL_VERSION, null, `g${i % 100000}`, 'attack').slice();
          switch (kind) {
            case 'random':
              c.write(wsFrame(WsOp.binary, rand.bytes(1 + rand.int(2000))));
              break;
            case 'truncated':
              c.write(wsFrame(WsOp.binary, hello.subarray(0, 1 + rand.int(hello.length - 1))));
              break;
            case 'absurd-offset': {
              const m = hello.slice();
              new DataView(m.buffer).setUint32(0, 0x7ffffff0, true);
              c.write(wsFrame(WsOp.binary, m));
              break;
            }
            case 'absurd-vector':
              c.write(wsFrame(WsOp.binary, absurdVectorResume(b)));
              break;
            case 'text':
              c.write(wsFrame(WsOp.text, Buffer.from('{"hello":"world"}')));
              break;
            case 'fragments':
              // A message that never ends, growing past net.maxPayloadLength.
              c.write(wsFrame(WsOp.binary, rand.bytes(100), { fin: false }));
              for (let k = 0; k < 80 && c.open; k++) {
                c.write(wsFrame(WsOp.cont, rand.bytes(100), { fin: false }));
                await sleep(5);
              }
              break;
            case 'unmasked':
              c.write(wsFrame(WsOp.binary, hello, { unmasked: true }));
              break;
            case 'bad-opcode':
              c.write(wsFrame(0x3, rand.bytes(10)));
              break;
            case 'ping-flood':
              for (let k = 0; k < 20 && c.open && performance.now() < ctx.deadline; k++) {
                const burst: Buffer[] = [];
                for (let j = 0; j < 100; j++) burst.push(wsFrame(WsOp.ping, rand.bytes(8)));
                c.write(Buffer.concat(burst));
                sent.pings = (sent.pings ?? 0) + 100;
                await sleep(50);
              }
              break;
            case 'after-hello':
              c.write(wsFrame(WsOp.binary, hello));
              await sleep(200);
              c.write(wsFrame(WsOp.binary, rand.bytes(64)));
              break;
          }
          return c.finish(GRACE_MS);
        },
      },
      sent,
    );
  },
};
