// Paged buffer pool: alloc+free pairs (one op = one alloc and one free),
// fixed-size and mixed sizes (100 B to 4 KiB, a sliding window of 1024 live
// slices, like per-session outbound queues), against `new Uint8Array(size)`
// left to the GC as the baseline in the same run. Heap bytes per op in steady
// state via harness.heapBytesPerOp (not for the baseline: the GC it relies on
// frees the garbage being measured).
//
// Run: npm run bench -- --json pool

import { report, measureSync, heapBytesPerOp } from './harness.js';
import { BufferPool } from '../../src/pool/index.js';

const pool = new BufferPool({ pageSize: 16384, pagesPerSet: 64, minPages: 64, maxPages: 4096 });

// Fixed size.
const fixed = (): void => {
  const h = pool.alloc(128);
  pool.bytes(h)[pool.offset(h)] = 1;
  pool.free(h);
};

// Mixed sizes over a window of live slices.
const SIZES = new Int32Array(4096);
let seed = 42;
for (let i = 0; i < SIZES.length; i++) {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  // Mostly small frames, a tail of larger ones.
  SIZES[i] = (seed & 7) === 0 ? 1024 + (seed % 3072) : 100 + (seed % 400);
}
const WINDOW = 1024;
const live = new Int32Array(WINDOW).fill(-1);
let cursor = 0;
const mixed = (): void => {
  const slot = cursor & (WINDOW - 1);
  const old = live[slot]!;
  if (old >= 0) pool.free(old);
  const h = pool.alloc(SIZES[cursor & (SIZES.length - 1)]!);
  pool.bytes(h)[pool.offset(h)] = 1;
  live[slot] = h;
  cursor++;
};

// Baseline: a fresh buffer per frame, freed by the GC.
let keep: Uint8Array | null = null;
let gcCursor = 0;
const garbage = (): void => {
  keep = new Uint8Array(SIZES[gcCursor++ & (SIZES.length - 1)]!);
  keep[0] = 1;
};

const base = measureSync(garbage, { rounds: 7 });
report({ name: 'pool.baseline.newUint8Array.mixed', opsPerSec: base.opsPerSec });
const f = measureSync(fixed, { rounds: 7 });
report({ name: 'pool.alloc+free.128B', opsPerSec: f.opsPerSec, heapBytesPerOp: heapBytesPerOp(fixed, 1_000_000) });
const m = measureSync(mixed, { rounds: 7 });
const s = pool.stats();
report({
  name: 'pool.alloc+free.mixed',
  opsPerSec: m.opsPerSec,
  vsNewUint8Array: m.opsPerSec / base.opsPerSec,
  heapBytesPerOp: heapBytesPerOp(mixed, 1_000_000),
  pagesInUse: s.pagesInUse,
  liveSlices: s.liveSlices,
  fillRatio: s.bytesInUse / (s.pagesInUse * s.pageSize),
});
if (keep === null) console.log('unreachable');
