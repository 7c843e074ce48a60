import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RestartIntensity } from '../src/zone/intensity.js';

test('allows R restarts in T, refuses the next, and allows again once the window has passed', () => {
  const r = new RestartIntensity(3, 10_000);
  assert.ok(r.allow(0));
  assert.ok(r.allow(1000));
  assert.ok(r.allow(2000));
  assert.equal(r.allow(3000), false);
  assert.equal(r.recent(3000), 3);
  assert.ok(r.allow(10_000), 'the first restart left the window');
  assert.equal(r.allow(10_500), false);
});

test('never more than R allowed restarts in any window of T', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 100, max: 5000 }), fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 100 }), (max, window, gaps) => {
      const r = new RestartIntensity(max, window);
      let t = 0;
      const allowed: number[] = [];
      for (const g of gaps) {
        t += g;
        if (r.allow(t)) allowed.push(t);
      }
      for (let i = 0; i + max < allowed.length; i++) assert.ok(allowed[i + max]! - allowed[i]! >= window);
    }),
  );
});
