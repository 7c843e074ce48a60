// The replay buffer against a model: what it holds is always a contiguous run
// of the newest frames, exactly as pushed, bounded by count, bytes and age;
// acks free what they cover; a resume is covered exactly when every frame
// after it is held; and the pool gets every slice back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplayBuffer } from '../src/session/replay.js';
import { BufferPool } from '../src/pool/index.js';

type Op = { kind: 'push'; size: number; dt: number } | { kind: 'ack'; back: number } | { kind: 'expire'; dt: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('push' as const), size: fc.integer({ min: 1, max: 5000 }), dt: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ack' as const), back: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), dt: fc.integer({ min: 0, max: 3000 }) }) },
);

test('replay buffer: contiguous newest frames, exact bytes, bounded, acked, covered exactly when replayable', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 8 }), (ops, pages) => {
      const pool = new BufferPool({ pageSize: 4096, pagesPerSet: 1, minPages: 0, maxPages: pages });
      const limits = { maxBytes: 12_000, maxAgeMs: 2000, maxFrames: 8 };
      const r = new ReplayBuffer(pool, limits, 2);
      // The model: frames pushed, with seq, bytes and time; and the first seq a replay may start after.
      const sent: Array<{ seq: number; bytes: Uint8Array; t: number }> = [];
      let now = 0;
      let seq = 0;
      for (const op of ops) {
        if (op.kind === 'push') {
          now += op.dt;
          seq++;
          const bytes = Uint8Array.from({ length: op.size }, (_, i) => (seq * 31 + i) & 255);
          const ok = r.push(seq, bytes, now);
          sent.push({ seq, bytes, t: now });
          if (!ok) assert.equal(r.frames, 0, 'a failed push empties the buffer');
        } else if (op.kind === 'ack') {
          r.ackThrough(Math.max(0, seq - op.back));
        } else {
          now += op.dt;
          r.expire(now);
        }
        // Held frames: contiguous, the newest, exact bytes, within the bounds.
        const held: Array<{ seq: number; bytes: Uint8Array }> = [];
        r.forEachAfter(0, (b, off, len, s) => held.push({ seq: s, bytes: b.slice(off, off + len) }));
        assert.equal(held.length, r.frames);
        assert.ok(held.length <= limits.maxFrames);
        assert.ok(r.bytes <= limits.maxBytes);
        assert.equal(r.bytes, held.reduce((n, h) => n + h.bytes.length, 0));
        if (held.length > 0) {
          assert.equal(held[held.length - 1]!.seq, seq, 'the newest frame is held');
          held.forEach((h, i) => {
            assert.equal(h.seq, held[0]!.seq + i, 'contiguous');
            assert.deepEqual(h.bytes, sent[h.seq - 1]!.bytes, 'bytes as pushed');
          });
          assert.equal(r.oldest, held[0]!.seq);
        }
        // covers(last, seq) is true exactly when every frame after `last` is held.
        for (let last = 0; last <= seq; last++) {
          const needed = seq - last;
          const have = held.filter((h) => h.seq > last).length;
          assert.equal(r.covers(last, seq), needed === 0 || have === needed, `covers(${last}, ${seq})`);
        }
      }
      r.clear();
      assert.equal(pool.stats().liveSlices, 0, 'every slice returned to the pool');
    }),
    { numRuns: 300 },
  );
});

test('a lowered byte cap (a zombie) drops the oldest frames at once and bounds what follows; Infinity restores the limit', () => {
  const pool = new BufferPool({ pageSize: 4096, pagesPerSet: 1, minPages: 0, maxPages: 256 });
  const r = new ReplayBuffer(pool, { maxBytes: 64 * 1024, maxAgeMs: 60_000, maxFrames: 1024 });
  const frame = new Uint8Array(1000).fill(7);
  for (let seq = 1; seq <= 60; seq++) assert.ok(r.push(seq, frame, 0));
  assert.equal(r.bytes, 60_000);
  r.setByteCap(16_000);
  assert.equal(r.bytes, 16_000, 'the newest 16 frames are left');
  assert.equal(r.oldest, 45);
  assert.equal(r.covers(44, 60), true, 'a resume from 44 is still replayable');
  assert.equal(r.covers(10, 60), false, 'one from before what is left gets a snapshot');
  for (let seq = 61; seq <= 80; seq++) assert.ok(r.push(seq, frame, 0));
  assert.equal(r.bytes, 16_000, 'the cap holds while frames keep coming');
  r.setByteCap(Infinity);
  for (let seq = 81; seq <= 120; seq++) assert.ok(r.push(seq, frame, 0));
  assert.equal(r.bytes, 56_000, 'back to the session limit (64 KiB) once resumed');
  assert.equal(r.frames, 56);
});
