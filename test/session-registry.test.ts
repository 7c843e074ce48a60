import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SessionRegistry, ResumeResult } from '../src/session/registry.js';
import { SessionState, RESUME_TOKEN_BYTES } from '../src/session/session.js';
import type { Socket } from '../src/net/gateway.js';

const sock = (n: number) => ({ n }) as unknown as Socket;
const alice = { accountId: 1, name: 'Alice', guest: false };
const bob = { accountId: 2, name: 'Bob', guest: false };

describe('session registry', () => {
  test('ids are unique, tokens are 128 random bits', () => {
    const r = new SessionRegistry({ zombieTtlMs: 60_000 });
    const seen = new Set<number>();
    const tokens = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const s = r.create({ accountId: i, name: `p${i}`, guest: false }, sock(i), 0, 0);
      assert.ok(s.id > 0 && s.id <= 0xffff_ffff);
      assert.equal(s.token.length, RESUME_TOKEN_BYTES);
      seen.add(s.id);
      tokens.add(s.token.toString('hex'));
    }
    assert.equal(seen.size, 2000);
    assert.equal(tokens.size, 2000);
    assert.equal(r.count[SessionState.connected], 2000);
  });

  test('resume with the right token rebinds and rotates the token; once confirmed, the old token is "replayed"', () => {
    const r = new SessionRegistry({ zombieTtlMs: 60_000 });
    const s = r.create(alice, sock(1), 0, 0);
    const first = Buffer.from(s.token);
    r.toZombie(s, 1000);
    assert.equal(s.state, SessionState.zombie);
    const ok = r.resume(s.id, first, sock(2), 2000);
    assert.equal(ok.result, ResumeResult.ok);
    assert.equal(ok.session, s);
    assert.equal(s.state, SessionState.connected);
    assert.deepEqual(s.socket, sock(2));
    assert.notDeepEqual(s.token, first, 'token rotated');
    assert.equal(s.tokenUnconfirmed, true);
    s.confirmTokens(); // the client spoke on the resumed link
    r.toZombie(s, 3000);
    assert.equal(r.resume(s.id, first, sock(3), 3500).result, ResumeResult.replayedToken);
  });

  test('until the client confirms, the token a resume presented resumes again (its Welcome may be lost); a login token never does', () => {
    const r = new SessionRegistry({ zombieTtlMs: 60_000 });
    const s = r.create(alice, sock(1), 0, 0);
    const first = Buffer.from(s.token);
    r.toZombie(s, 1000);
    assert.equal(r.resume(s.id, first, sock(2), 2000).result, ResumeResult.ok);
    const lost = Buffer.from(s.token);
    r.toZombie(s, 2500);
    assert.equal(r.resume(s.id, first, sock(3), 3000).result, ResumeResult.ok, 'retry with the token the client still holds');
    assert.equal(r.resume(s.id, first, sock(4), 3100).result, ResumeResult.ok, 'and again, while unconfirmed');
    assert.equal(r.resumeRetries, 2, 'both counted as retries after a lost Welcome');
    assert.equal(r.resumes[ResumeResult.ok], 3);
    s.confirmTokens();
    r.toZombie(s, 3500);
    assert.equal(r.resume(s.id, first, sock(5), 4000).result, ResumeResult.replayedToken);
    assert.equal(r.resume(s.id, lost, sock(5), 4000).result, ResumeResult.replayedToken);
    // A take-over (a new login) rotates without a grace: the kicked client's token is spent at once.
    const current = Buffer.from(s.token);
    s.rotateToken();
    assert.equal(s.tokenUnconfirmed, false);
    assert.equal(r.resume(s.id, current, sock(6), 4100).result, ResumeResult.replayedToken);
  });

  test('a wrong or replayed token changes nothing: the zombie keeps its state, token and timer', () => {
    const r = new SessionRegistry({ zombieTtlMs: 10_000 });
    const s = r.create(alice, sock(1), 0, 0);
    r.toZombie(s, 0);
    const before = { state: s.state, until: s.zombieUntil, epoch: s.epoch, token: Buffer.from(s.token) };
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 32 }), (bytes) => {
        fc.pre(!(bytes.length === 16 && Buffer.from(bytes).equals(s.token)));
        const res = r.resume(s.id, bytes, sock(9), 5000);
        assert.equal(res.result, ResumeResult.wrongToken);
        assert.equal(res.session, undefined);
      }),
      { numRuns: 500 },
    );
    assert.deepEqual({ state: s.state, until: s.zombieUntil, epoch: s.epoch, token: s.token }, before);
    // The timer still fires at the original deadline, not later.
    const expired: number[] = [];
    r.sweep(9_999, (x) => expired.push(x.id));
    assert.equal(expired.length, 0);
    r.sweep(10_000, (x) => expired.push(x.id));
    assert.deepEqual(expired, [s.id]);
    assert.equal(r.resume(s.id, before.token, sock(4), 10_001).result, ResumeResult.expired);
  });

  test('unknown sessions and zombies past their deadline are refused', () => {
    const r = new SessionRegistry({ zombieTtlMs: 100 });
    assert.equal(r.resume(12345, Buffer.alloc(16), sock(1), 0).result, ResumeResult.unknownSession);
    const s = r.create(alice, sock(1), 0, 0);
    r.toZombie(s, 0);
    // Deadline passed but not yet swept: still refused as expired.
    assert.equal(r.resume(s.id, s.token, sock(2), 100).result, ResumeResult.expired);
    assert.equal(s.state, SessionState.zombie);
  });

  test('sweep expires exactly the zombies that are due, in order, skipping resumed ones', () => {
    const r = new SessionRegistry({ zombieTtlMs: 1000 });
    const a = r.create(alice, sock(1), 0, 0);
    const b = r.create(bob, sock(2), 0, 0);
    const c = r.create({ accountId: 3, name: 'Cy', guest: false }, sock(3), 0, 0);
    r.toZombie(a, 0);
    r.toZombie(b, 100);
    r.toZombie(c, 200);
    assert.equal(r.resume(b.id, b.token, sock(5), 500).result, ResumeResult.ok);
    const out: string[] = [];
    r.sweep(1150, (s) => out.push(s.identity.name));
    assert.deepEqual(out, ['Alice']);
    r.sweep(5000, (s) => out.push(s.identity.name));
    assert.deepEqual(out, ['Alice', 'Cy']);
    assert.equal(b.state, SessionState.connected);
    assert.equal(r.count[SessionState.zombie], 0);
    assert.equal(r.zombieExpiries, 2);
    // A zombie that resumed and dropped again gets a fresh deadline.
    r.toZombie(b, 6000);
    r.sweep(6500, (s) => out.push(s.identity.name));
    assert.deepEqual(out, ['Alice', 'Cy']);
    r.sweep(7000, (s) => out.push(s.identity.name));
    assert.deepEqual(out, ['Alice', 'Cy', 'Bob']);
  });

  test('lookup by account (take-over) and by name (whisper), case-insensitive; ended sessions leave every index', () => {
    const r = new SessionRegistry({ zombieTtlMs: 1000 });
    const s = r.create(alice, sock(1), 0, 0);
    assert.equal(r.findByIdentity({ accountId: 1, name: 'whatever', guest: false }), s);
    assert.equal(r.findByName('ALICE'), s);
    const g = r.create({ accountId: -1, name: 'Wanderer', guest: true }, sock(2), 0, 0);
    assert.equal(r.findByIdentity({ accountId: -7, name: 'wanderer', guest: true }), g, 'guests are keyed by name');
    r.end(s);
    assert.equal(r.get(s.id), undefined);
    assert.equal(r.findByIdentity(alice), undefined);
    assert.equal(r.findByName('alice'), undefined);
    assert.equal(s.state, SessionState.closed);
    assert.equal(r.size, 1);
  });
});
