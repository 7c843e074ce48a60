import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SpatialGrid } from '../src/world/grid.js';

// Random operations on a grid over a 300 x 200 area; after each batch, radius
// queries (linked and packed) must return exactly what a scan of every
// entity returns.

const W = 300;
const H = 200;
const CAP = 64;

type Op = { op: 'insert' | 'move' | 'remove'; slot: number; x: number; y: number };

const opArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom('insert' as const, 'move' as const, 'move' as const, 'remove' as const),
  slot: fc.integer({ min: 0, max: CAP - 1 }),
  // Include the exact edges and a little outside (clamped cells).
  x: fc.oneof(fc.double({ min: 0, max: W, noNaN: true }), fc.constantFrom(0, W, W - 1e-9)),
  y: fc.oneof(fc.double({ min: 0, max: H, noNaN: true }), fc.constantFrom(0, H)),
});

const queryArb = fc.record({
  x: fc.double({ min: -20, max: W + 20, noNaN: true }),
  y: fc.double({ min: -20, max: H + 20, noNaN: true }),
  r: fc.double({ min: 0, max: 150, noNaN: true }),
});

function brute(xs: Float32Array, ys: Float32Array, live: Set<number>, x: number, y: number, r: number): Map<number, number> {
  const m = new Map<number, number>();
  for (const s of live) {
    const dx = xs[s]! - x;
    const dy = ys[s]! - y;
    const d2 = dx * dx + dy * dy;
    if (d2 <= r * r) m.set(s, d2);
  }
  return m;
}

function collect(n: number, out: Int32Array, d2: Float64Array): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    assert.ok(!m.has(out[i]!), `slot ${out[i]} returned twice`);
    m.set(out[i]!, d2[i]!);
  }
  return m;
}

describe('spatial grid', () => {
  test('radius queries equal a brute-force scan after any inserts, moves and removes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.tuple(fc.array(opArb, { maxLength: 40 }), fc.array(queryArb, { minLength: 1, maxLength: 6 })), { minLength: 1, maxLength: 6 }),
        (cellSize, batches) => {
          const xs = new Float32Array(CAP);
          const ys = new Float32Array(CAP);
          const g = new SpatialGrid(W, H, cellSize, CAP, xs, ys);
          const live = new Set<number>();
          const out = new Int32Array(CAP);
          const d2 = new Float64Array(CAP);
          for (const [ops, queries] of batches) {
            for (const o of ops) {
              if (o.op === 'insert' && !live.has(o.slot)) {
                xs[o.slot] = o.x;
                ys[o.slot] = o.y;
                g.insert(o.slot);
                live.add(o.slot);
              } else if (o.op === 'move' && live.has(o.slot)) {
                xs[o.slot] = o.x;
                ys[o.slot] = o.y;
                g.move(o.slot);
              } else if (o.op === 'remove') {
                g.remove(o.slot);
                live.delete(o.slot);
              }
            }
            for (const q of queries) {
              const want = brute(xs, ys, live, q.x, q.y, q.r);
              assert.deepEqual(collect(g.query(q.x, q.y, q.r, out, d2), out, d2), want);
              g.pack();
              assert.ok(g.isPacked());
              assert.deepEqual(collect(g.queryPacked(q.x, q.y, q.r, out, d2), out, d2), want);
            }
            for (let s = 0; s < CAP; s++) assert.equal(g.contains(s), live.has(s));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test('any change makes the packed copy stale, even a move within one cell', () => {
    const xs = new Float32Array(4);
    const ys = new Float32Array(4);
    const g = new SpatialGrid(100, 100, 50, 4, xs, ys);
    xs[0] = 10;
    ys[0] = 10;
    g.insert(0);
    g.pack();
    assert.equal(g.isPacked(), true);
    xs[0] = 11;
    g.move(0);
    assert.equal(g.isPacked(), false);
    g.pack();
    g.remove(0);
    assert.equal(g.isPacked(), false);
  });
});
