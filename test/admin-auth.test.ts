// The admin token check: constant-time compare of the bearer token, and the
// per-address bucket that only failures drain (a right token costs nothing,
// an address out of tokens is refused before its token is looked at).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminAuth } from '../src/admin/auth.js';
import { RateLimiter } from '../src/net/rate-limit.js';

function auth(burst = 3, perMinute = 60) {
  let now = 1_000_000;
  const a = new AdminAuth('s3cret-token', new RateLimiter({ burst, perMinute }), () => now);
  return { a, advance: (ms: number) => (now += ms) };
}

test('the right bearer token passes, and costs nothing however often it is sent', () => {
  const { a } = auth(2);
  for (let i = 0; i < 100; i++) assert.deepEqual(a.check('Bearer s3cret-token', '127.0.0.1'), { ok: true });
  assert.deepEqual(a.check('bearer   s3cret-token ', '127.0.0.1'), { ok: true }, 'scheme case and spaces do not matter');
});

test('missing, malformed, wrong, prefix and longer tokens are 401', () => {
  const { a } = auth(100);
  for (const h of ['', 's3cret-token', 'Basic s3cret-token', 'Bearer ', 'Bearer s3cret', 'Bearer s3cret-token2', 'Bearer S3CRET-TOKEN']) {
    const r = a.check(h, '127.0.0.2');
    assert.equal(r.ok, false, h);
    assert.equal(!r.ok && r.status, 401, h);
  }
});

test('failures drain the address bucket; then even the right token gets 429 until it refills', () => {
  const { a, advance } = auth(3, 60);
  for (let i = 0; i < 3; i++) assert.equal((a.check('Bearer nope', '127.0.0.3') as { status: number }).status, 401);
  const limited = a.check('Bearer nope', '127.0.0.3');
  assert.equal(!limited.ok && limited.status, 429);
  const right = a.check('Bearer s3cret-token', '127.0.0.3');
  assert.equal(!right.ok && right.status, 429, 'a guess that happens to be right is refused while limited');
  assert.ok(!right.ok && right.retryAfterMs > 0 && right.retryAfterMs <= 1000);
  assert.deepEqual(a.check('Bearer s3cret-token', '127.0.0.4'), { ok: true }, 'other addresses are not affected');
  advance(1000);
  assert.deepEqual(a.check('Bearer s3cret-token', '127.0.0.3'), { ok: true }, 'one token refilled after a second at 60/min');
});

test('an empty admin token is refused at construction', () => {
  assert.throws(() => new AdminAuth('', new RateLimiter({ burst: 1, perMinute: 1 })), /must not be empty/);
});
