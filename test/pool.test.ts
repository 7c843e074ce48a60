import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import fc from 'fast-check';
import { BufferPool, PoolError } from '../src/pool/index.js';

interface Live {
  handle: number;
  requested: number;
  set: number;
  offset: number;
  size: number;
  seed: number;
}

function fill(pool: BufferPool, l: Live): void {
  const b = pool.bytes(l.handle);
  for (let i = 0; i < l.size; i++) b[l.offset + i] = (l.seed + i * 31) & 0xff;
}

function intact(pool: BufferPool, l: Live): boolean {
  const b = pool.bytes(l.handle);
  for (let i = 0; i < l.size; i++) if (b[l.offset + i] !== ((l.seed + i * 31) & 0xff)) return false;
  return true;
}

type Op =
  | { kind: 'alloc'; size: number }
  | { kind: 'free'; pick: number }
  | { kind: 'doubleFree'; pick: number }
  | { kind: 'foreign'; value: number }
  | { kind: 'trim' };

describe('BufferPool (fast-check)', () => {
  test('live slices never overlap and keep their bytes; double, stale and foreign frees are refused and counted; stats are exact', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 4200 })).map((size) => ({ kind: 'alloc' as const, size })) },
      { weight: 4, arbitrary: fc.nat().map((pick) => ({ kind: 'free' as const, pick })) },
      { weight: 1, arbitrary: fc.nat().map((pick) => ({ kind: 'doubleFree' as const, pick })) },
      { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.integer({ min: 0, max: 1 << 30 })).map((value) => ({ kind: 'foreign' as const, value })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'trim' as const }) },
    );
    let ceilingHits = 0;
    let trims = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400, size: 'max' }), (ops) => {
        const pool = new BufferPool({ pageSize: 4096, pagesPerSet: 2, minPages: 2, maxPages: 8, minSlice: 16 });
        const live: Live[] = [];
        const freed: number[] = [];
        let seed = 1;
        let bad = 0;
        let failed = 0;
        for (const o of ops) {
          if (o.kind === 'alloc') {
            const h = pool.alloc(o.size);
            if (h < 0) {
              failed++;
              if (o.size <= 4096) {
                assert.equal(pool.stats().pagesTotal, 8, 'only refused at the ceiling');
                ceilingHits++;
              }
              continue;
            }
            assert.ok(o.size <= 4096);
            const l: Live = { handle: h, requested: o.size, set: pool.setIndex(h), offset: pool.offset(h), size: pool.size(h), seed: seed++ };
            assert.ok(l.size >= o.size && l.size > 0, 'big enough');
            assert.equal(l.offset % 8, 0, '8-byte aligned');
            assert.ok(l.offset + l.size <= pool.bytes(h).length);
            assert.equal(Math.floor(l.offset / 4096), Math.floor((l.offset + l.size - 1) / 4096), 'inside one page');
            for (const m of live) {
              if (m.set === l.set) assert.ok(l.offset + l.size <= m.offset || m.offset + m.size <= l.offset, 'no overlap with a live slice');
            }
            fill(pool, l);
            live.push(l);
          } else if (o.kind === 'free') {
            if (live.length === 0) continue;
            const [l] = live.splice(o.pick % live.length, 1) as [Live];
            assert.ok(intact(pool, l), 'bytes untouched while live');
            assert.equal(pool.free(l.handle), true);
            assert.equal(pool.isLive(l.handle), false);
            freed.push(l.handle);
          } else if (o.kind === 'doubleFree') {
            if (freed.length === 0) continue;
            const h = freed[o.pick % freed.length]!;
            // Freed before: refused whether or not its slice was reused since (then under another handle).
            if (live.some((l) => l.handle === h)) continue; // same number handed out again after 2^genBits reuses
            assert.equal(pool.free(h), false);
            bad++;
          } else if (o.kind === 'foreign') {
            if (live.some((l) => l.handle === o.value)) continue;
            assert.equal(pool.free(o.value), false);
            bad++;
          } else {
            pool.trim();
            trims++;
          }
          const s = pool.stats();
          assert.equal(s.liveSlices, live.length);
          assert.equal(s.bytesInUse, live.reduce((a, l) => a + l.size, 0));
          assert.equal(s.badFrees, bad);
          assert.equal(s.failedAllocs, failed);
          assert.ok(s.pagesInUse <= s.pagesTotal && s.pagesTotal <= 8 && s.pagesTotal >= 2 && s.pagesTotal % 2 === 0);
          assert.ok(s.pagesHighWater >= s.pagesInUse);
          assert.equal(s.pageSets * 2, s.pagesTotal);
        }
        for (const l of live) {
          assert.ok(pool.isLive(l.handle));
          assert.ok(intact(pool, l));
          assert.equal(pool.free(l.handle), true);
        }
        assert.equal(pool.stats().liveSlices, 0);
        pool.trim();
        assert.equal(pool.stats().pagesTotal, 2, 'trimmed back to the floor');
      }),
      { numRuns: 200 },
    );
    assert.ok(ceilingHits > 10 && trims > 10, `ceiling hits ${ceilingHits}, trims ${trims}`);
  });
});

describe('BufferPool', () => {
  test('grows a page set at a time up to the ceiling, then returns -1 and counts it; trim never goes below the floor', () => {
    const pool = new BufferPool({ pageSize: 4096, pagesPerSet: 4, minPages: 4, maxPages: 16 });
    assert.deepEqual([pool.stats().pagesTotal, pool.stats().grows], [4, 1]);
    const pages: number[] = [];
    for (let i = 0; i < 16; i++) {
      const h = pool.alloc(4096);
      assert.ok(h >= 0);
      pages.push(h);
      assert.equal(pool.stats().pagesTotal, Math.ceil((i + 1) / 4) * 4, `after ${i + 1} pages`);
    }
    assert.equal(pool.alloc(4096), -1);
    assert.equal(pool.alloc(10), -1, 'no page left for a small class either');
    let s = pool.stats();
    assert.deepEqual([s.pagesTotal, s.pagesInUse, s.pagesHighWater, s.pageSets, s.failedAllocs, s.grows], [16, 16, 16, 4, 2, 4]);
    assert.equal(s.bytesInUse, 16 * 4096);
    for (const h of pages) assert.equal(pool.free(h), true);
    s = pool.stats();
    assert.deepEqual([s.liveSlices, s.bytesInUse, s.pagesInUse, s.pagesHighWater], [0, 0, 1, 16], 'one spare page kept for the class');
    assert.equal(pool.trim(), 12);
    s = pool.stats();
    assert.deepEqual([s.pagesTotal, s.pagesInUse, s.pageSets, s.trimmedPages], [4, 1, 1, 12], 'the floor set keeps the spare page');
    assert.equal(pool.trim(), 0, 'the floor stays');
    assert.ok(pool.alloc(100) >= 0, 'still usable');
  });

  test('size edges: 0 gives the smallest class, pageSize a whole page; above, negative or NaN is -1 (counted)', () => {
    const pool = new BufferPool({ pageSize: 16384, minSlice: 64 });
    assert.equal(pool.size(pool.alloc(0)), 64);
    assert.equal(pool.size(pool.alloc(1)), 64);
    assert.equal(pool.size(pool.alloc(65)), 80);
    assert.equal(pool.size(pool.alloc(16384)), 16384);
    assert.equal(pool.alloc(16385), -1);
    assert.equal(pool.alloc(-1), -1);
    assert.equal(pool.alloc(Number.NaN), -1);
    assert.equal(pool.stats().failedAllocs, 3);
    // Class sizes ascend, are 8-aligned and waste under a third up to a quarter page.
    const cs = [...pool.classSizes];
    for (let i = 1; i < cs.length; i++) assert.ok(cs[i]! > cs[i - 1]! && cs[i]! % 8 === 0);
    for (let size = 65; size <= 4096; size += 37) assert.ok(pool.size(pool.alloc(size)) < size * 1.34, `size ${size}`);
  });

  test('a stale handle (slice freed and reused) is refused and leaves the new owner alone', () => {
    const pool = new BufferPool({ pageSize: 4096, pagesPerSet: 1, minPages: 1, maxPages: 4 });
    const a = pool.alloc(100);
    assert.equal(pool.free(a), true);
    const b = pool.alloc(100);
    assert.equal(pool.offset(b), pool.offset(a), 'same slice reused');
    assert.notEqual(b, a);
    assert.equal(pool.free(a), false);
    assert.equal(pool.isLive(b), true);
    assert.equal(pool.free(b), true);
    assert.equal(pool.stats().badFrees, 1);
  });

  test('options are validated with a stable code', () => {
    for (const bad of [{ pageSize: 1000 }, { pagesPerSet: 3 }, { maxPages: 100, pagesPerSet: 64 }, { minPages: -1 }, { minSlice: 8 }, { classesPerDoubling: 0 }, { maxPages: 1 << 20, pagesPerSet: 1, minSlice: 16, pageSize: 1 << 20 }]) {
      assert.throws(() => new BufferPool(bad), (e: unknown) => e instanceof PoolError && e.code === 'MMO_ERR_POOL_CONFIG', JSON.stringify(bad));
    }
  });

  test('a slice is shared memory: another thread writes it through the set buffer, offset and size', async () => {
    const pool = new BufferPool({ pageSize: 4096, pagesPerSet: 2, minPages: 2, maxPages: 8 });
    pool.alloc(3000);
    const h = pool.alloc(500);
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      const b = new Uint8Array(workerData.sab, workerData.offset, workerData.size);
      for (let i = 0; i < b.length; i++) b[i] = (i * 7) & 0xff;
      parentPort.postMessage('done');`;
    const w = new Worker(code, { eval: true, workerData: { sab: pool.setBuffer(pool.setIndex(h)), offset: pool.offset(h), size: pool.size(h) } });
    await once(w, 'message');
    const b = pool.bytes(h);
    const off = pool.offset(h);
    for (let i = 0; i < pool.size(h); i++) assert.equal(b[off + i], (i * 7) & 0xff);
    await w.terminate();
  });
});
