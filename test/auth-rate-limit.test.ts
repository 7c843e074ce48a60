// The per-address token bucket behind /auth/*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RateLimiter } from '../src/net/rate-limit.js';

test('a burst is allowed, then each request waits for a refill; addresses are independent', () => {
  const rl = new RateLimiter({ burst: 3, perMinute: 60 });
  const t = 1_000_000;
  assert.deepEqual([rl.take('a', t), rl.take('a', t), rl.take('a', t)], [0, 0, 0]);
  assert.equal(rl.take('a', t), 1000, 'one token per second at 60/min');
  assert.equal(rl.take('b', t), 0);
  assert.equal(rl.take('a', t + 500), 500, 'a refused request does not reset the refill');
  assert.equal(rl.take('a', t + 1000), 0);
  assert.equal(rl.take('a', t + 1000), 1000);
  // A long pause refills to the burst, not beyond.
  assert.deepEqual([0, 1, 2, 3].map(() => rl.take('a', t + 3_600_000)), [0, 0, 0, 1000]);
});

test('memory is bounded: full buckets go first, then the least recently used', () => {
  const rl = new RateLimiter({ burst: 2, perMinute: 60, maxKeys: 100 });
  const t = 5_000_000;
  // "hot" is drained; 200 other addresses come and go.
  rl.take('hot', t);
  rl.take('hot', t);
  for (let i = 0; i < 200; i++) {
    rl.take(`ip${i}`, t + 10_000 + i * 10_000);
    assert.ok(rl.size <= 100);
  }
  // Nothing is full (slow refill): the least recently used go.
  const rl2 = new RateLimiter({ burst: 2, perMinute: 1, maxKeys: 10 });
  rl2.take('old', t);
  rl2.take('old', t);
  for (let i = 0; i < 9; i++) rl2.take(`x${i}`, t + 1 + i);
  assert.equal(rl2.size, 10);
  rl2.take('new', t + 20);
  assert.equal(rl2.size, 10);
  assert.equal(rl2.take('x0', t + 21), 0, 'x0 kept its bucket: one token left');
  assert.ok(rl2.take('x0', t + 21) > 0);
  assert.equal(rl2.take('old', t + 22), 0, '"old" was the least recently used and was dropped');
});

test('property: over any schedule, allowed requests never exceed burst + elapsed x rate', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 600 }), fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 300 }), (burst, perMinute, gaps) => {
      const rl = new RateLimiter({ burst, perMinute });
      let t = 0;
      let allowed = 0;
      for (const g of gaps) {
        t += g;
        if (rl.take('k', t) === 0) allowed++;
      }
      assert.ok(allowed <= burst + (t * perMinute) / 60_000 + 1e-9, `${allowed} allowed in ${t} ms`);
    }),
    { numRuns: 300, seed: 11 },
  );
});
