// resume-forgery: Resume messages with forged tokens for guessed session ids
// (the honest players' among them), tokens of sessions that ended, and the
// attacker's own zombie session's id with a token one bit off. Every one must
// be refused with 4101, and the owner of a probed session must still resume
// it with the right token afterwards (a forgery must not cost the owner).

import { ClientMessageBuilder } from '../../src/protocol/build.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { rawWebSocket, wsFrame, WsOp, type RawConn, type WelcomeInfo } from './raw.js';
import { runPool } from './pool.js';
import { Rand, type Attack, type AttackContext, type Outcome } from './types.js';
import { GRACE_MS } from './limits.js';

const KINDS = ['forged', 'forged', 'expired', 'bit-flip'] as const;

export const resumeForgery: Attack = {
  name: 'resume-forgery',
  description: 'resumes with forged, expired and bit-flipped tokens, for guessed and real session ids',
  async run(ctx) {
    const rand = new Rand(ctx.seed ^ 0x7e5);
    const b = new ClientMessageBuilder();
    const sent: Record<string, number> = { forged: 0, expired: 0, 'bit-flip': 0, ownerResumed: 0, ownerRefused: 0 };
    const ownToken = new Map<number, Uint8Array>();
    return runPool(
      'resume-forgery',
      ctx,
      {
        perSec: 100 * ctx.intensity,
        concurrency: Math.round(200 * ctx.intensity),
        cap: Math.round(6000 * ctx.intensity),
        one: async (src, i): Promise<Outcome[]> => {
          const kind = KINDS[i % KINDS.length]!;
          const out: Outcome[] = [];
          let target: WelcomeInfo;
          if (kind === 'forged') {
            target = { sessionId: 1 + rand.int(5000), token: rand.bytes(32) };
          } else {
            // A session of the attacker's own: ended with a logout (expired), or a zombie (bit-flip).
            const own = await ownSession(ctx, b, src, `r${i % 1_000_000}`, kind === 'expired');
            out.push(own.outcome);
            if (!own.welcome) return out;
            target = own.welcome;
            if (kind === 'bit-flip') {
              ownToken.set(i, target.token);
              const t = target.token.slice();
              t[rand.int(t.length)]! ^= 1 << rand.int(8);
              target = { sessionId: target.sessionId, token: t };
            }
          }
          sent[kind]!++;
          const c = await rawWebSocket(ctx.host, ctx.port, ctx.wsPath, src);
          if (c.upgraded) c.write(wsFrame(WsOp.binary, b.resume(PROTOCOL_VERSION, target.sessionId, target.token, 0)));
          out.push(await c.finish(GRACE_MS));
          if (kind === 'bit-flip') {
            // The owner, with the right token, must still get its session back.
            const own = await rawWebSocket(ctx.host, ctx.port, ctx.wsPath, src, true);
            if (own.upgraded) {
              const real = target.token.slice();
              real.set(ownToken.get(i) ?? real);
              own.write(wsFrame(WsOp.binary, b.resume(PROTOCOL_VERSION, target.sessionId, real, 0)));
              if (await own.until(() => own.welcome !== null, 5000)) sent.ownerResumed!++;
              else sent.ownerRefused!++;
              ownToken.delete(i);
              out.push(await logout(own));
            } else out.push(await own.finish(GRACE_MS));
          }
          return out;
        },
      },
      sent,
    );

    /** Logs in as a guest; then logs out (the session ends) or drops the socket (a zombie that can be resumed). */
    async function ownSession(actx: AttackContext, builder: ClientMessageBuilder, src: string, name: string, end: boolean): Promise<{ outcome: Outcome; welcome: WelcomeInfo | null }> {
      const c = await rawWebSocket(actx.host, actx.port, actx.wsPath, src, true);
      if (!c.upgraded) return { outcome: await c.finish(GRACE_MS), welcome: null };
      c.write(wsFrame(WsOp.binary, builder.hello(PROTOCOL_VERSION, null, name, 'attack')));
      await c.until(() => c.welcome !== null, 10_000);
      const w = c.welcome;
      if (end || !w) return { outcome: await logout(c), welcome: w };
      // A dropped link: the server sees a reset, the session stays as a zombie.
      c.socket.resetAndDestroy();
      return { outcome: await c.closed.then(() => 'dropped-by-attacker' as const), welcome: w };
    }
  },
};

/** A normal close (1000) is a logout; the server answers with its own close frame. */
async function logout(c: RawConn): Promise<Outcome> {
  const close = Buffer.alloc(2);
  close.writeUInt16BE(1000);
  c.write(wsFrame(WsOp.close, close));
  return c.finish(GRACE_MS);
}
