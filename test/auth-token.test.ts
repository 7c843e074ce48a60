// Login tokens: what verify accepts, and why it refuses everything else.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync, statSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { TokenSigner, loadTokenSecret, SECRET_FILE } from '../src/persist/token.js';
import { tempDir } from './helpers/server.js';

const SECRET = Buffer.alloc(32, 7);
const NOW = 1_800_000_000_000;

function signRaw(secret: Buffer, payloadJson: string): string {
  const payload = Buffer.from(payloadJson).toString('base64url');
  const mac = createHmac('sha256', secret).update('mmo1.').update(payload).digest('base64url');
  return `${payload}.${mac}`;
}

describe('token sign and verify', () => {
  const signer = new TokenSigner(SECRET, 300);

  test('a fresh token verifies to its claims; expiry has second precision', () => {
    const { token, expiresAt } = signer.sign({ accountId: 42, name: 'Alice', guest: false }, NOW + 999);
    assert.equal(expiresAt, NOW + 300_000);
    assert.deepEqual(signer.verify(token, NOW + 1000), { ok: true, claims: { accountId: 42, name: 'Alice', expiresAt, guest: false } });
    const g = signer.sign({ accountId: 0x8000_0001, name: 'guest_x', guest: true }, NOW);
    const r = signer.verify(g.token, NOW);
    assert.ok(r.ok && r.claims.guest && r.claims.accountId === 0x8000_0001);
  });

  test('expired at and after its expiry, valid one ms before', () => {
    const { token, expiresAt } = signer.sign({ accountId: 1, name: 'A', guest: false }, NOW);
    assert.equal(signer.verify(token, expiresAt - 1).ok, true);
    assert.deepEqual(signer.verify(token, expiresAt), { ok: false, reason: 'expired' });
    assert.deepEqual(signer.verify(token, expiresAt + 86_400_000), { ok: false, reason: 'expired' });
  });

  test('forged: another payload under the same signature, another secret, a flipped bit', () => {
    const { token } = signer.sign({ accountId: 1, name: 'A', guest: false }, NOW);
    const sig = token.split('.')[1]!;
    const otherPayload = Buffer.from(JSON.stringify({ a: 2, n: 'A', e: NOW / 1000 + 300 })).toString('base64url');
    assert.deepEqual(signer.verify(`${otherPayload}.${sig}`, NOW), { ok: false, reason: 'bad_signature' });
    const foreign = new TokenSigner(Buffer.alloc(32, 8), 300).sign({ accountId: 1, name: 'A', guest: false }, NOW).token;
    assert.deepEqual(signer.verify(foreign, NOW), { ok: false, reason: 'bad_signature' });
    const raw = Buffer.from(sig, 'base64url');
    raw[5]! ^= 1;
    assert.deepEqual(signer.verify(`${token.split('.')[0]}.${raw.toString('base64url')}`, NOW), { ok: false, reason: 'bad_signature' });
    // Forging a guest flag onto an account token is a signature failure too.
    const guestish = Buffer.from(JSON.stringify({ a: 1, n: 'A', e: NOW / 1000 + 300, g: 1 })).toString('base64url');
    assert.deepEqual(signer.verify(`${guestish}.${sig}`, NOW), { ok: false, reason: 'bad_signature' });
  });

  test('malformed: wrong types, shapes, characters, lengths, and signed garbage', () => {
    const { token } = signer.sign({ accountId: 1, name: 'A', guest: false }, NOW);
    const [p, s] = token.split('.') as [string, string];
    for (const bad of [undefined, null, 42, {}, '', '.', 'abc', `${p}.`, `.${s}`, `${p}.${s}.${s}`, `${p}!.${s}`, `${p}.${s.slice(0, -2)}`, `${p}.${s}AA`, 'a'.repeat(600) + `.${s}`]) {
      assert.deepEqual(signer.verify(bad, NOW), { ok: false, reason: 'malformed' }, `token ${String(bad).slice(0, 40)}`);
    }
    assert.deepEqual(signer.verify(signRaw(SECRET, 'not json'), NOW), { ok: false, reason: 'malformed' });
    assert.deepEqual(signer.verify(signRaw(SECRET, JSON.stringify({ a: '1', n: 'A', e: NOW / 1000 + 60 })), NOW), { ok: false, reason: 'malformed' });
    assert.deepEqual(signer.verify(signRaw(SECRET, JSON.stringify({ a: 1, e: NOW / 1000 + 60 })), NOW), { ok: false, reason: 'malformed' });
    assert.equal(signer.verify(signRaw(SECRET, JSON.stringify({ a: 1, n: 'A', e: NOW / 1000 + 60 })), NOW).ok, true);
  });

  test('property: no string that was not signed here verifies, and verify never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.tuple(fc.base64String(), fc.base64String()).map(([a, b]) => `${a}.${b}`.replace(/\+/g, '-').replace(/\//g, '_').replace(/=/g, ''))), (s) => {
        assert.equal(signer.verify(s, NOW).ok, false);
      }),
      { numRuns: 2000, seed: 3 },
    );
  });

  test('property: any claims round-trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 32 }), fc.string({ minLength: 1, maxLength: 40 }), fc.boolean(), (accountId, name, guest) => {
        const { token, expiresAt } = signer.sign({ accountId, name, guest }, NOW);
        assert.deepEqual(signer.verify(token, NOW), { ok: true, claims: { accountId, name, expiresAt, guest } });
      }),
      { numRuns: 500, seed: 4 },
    );
  });

  test('a secret under 32 bytes is refused', () => {
    assert.throws(() => new TokenSigner(Buffer.alloc(31), 60), (e: unknown) => (e as { code?: string }).code === 'MMO_ERR_AUTH_SECRET');
  });
});

describe('token secret', () => {
  test('made once in the data dir with mode 0600, then reused', () => {
    const dir = join(tempDir(), 'data');
    const a = loadTokenSecret('', dir);
    const file = join(dir, SECRET_FILE);
    assert.equal(a.source, file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(a.secret.length, 32);
    assert.equal(a.fixedMode, undefined);
    assert.deepEqual(loadTokenSecret('', dir).secret, a.secret);
    assert.match(readFileSync(file, 'utf8'), /^[0-9a-f]{64}\n$/);
  });

  test('a secret file readable by others is tightened to 0600 and reported', () => {
    const dir = tempDir();
    loadTokenSecret('', dir);
    chmodSync(join(dir, SECRET_FILE), 0o644);
    const r = loadTokenSecret('', dir);
    assert.equal(r.fixedMode, 0o644);
    assert.equal(statSync(join(dir, SECRET_FILE)).mode & 0o777, 0o600);
  });

  test('a configured secret wins; a short or corrupt one is an error', () => {
    const dir = tempDir();
    const r = loadTokenSecret('x'.repeat(32), dir);
    assert.equal(r.source, 'auth.tokenSecret');
    assert.deepEqual(r.secret, Buffer.from('x'.repeat(32)));
    assert.throws(() => loadTokenSecret('short', dir), /at least 32 bytes/);
    writeFileSync(join(dir, SECRET_FILE), 'nothex\n', { mode: 0o600 });
    assert.throws(() => loadTokenSecret('', dir), /does not hold a hex secret/);
  });
});
