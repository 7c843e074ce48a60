import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { Doorbell, SpscRing, MpscRing, RingError, watch } from '../src/ring/index.js';
import type { RingWorkerData } from './fixtures/ring-worker.js';
import { setTimeout as sleep } from 'node:timers/promises';

const FIXTURE = new URL('./fixtures/ring-worker.js', import.meta.url);

function startWorker(data: RingWorkerData): Worker & { exited: Promise<unknown> } {
  const w = new Worker(FIXTURE, { workerData: data }) as Worker & { exited: Promise<unknown> };
  w.exited = once(w, 'exit');
  return w;
}


describe('Doorbell', () => {
  test('producers notify only when the consumer armed the bell: one notification per arm, not per record', () => {
    const bell = Doorbell.create();
    const spsc = SpscRing.create(1 << 16, bell);
    const mpsc = MpscRing.create(1 << 16, { doorbell: bell });
    const p = mpsc.producer(0);
    // Zeroed memory is an armed bell: the first publish notifies, the rest do not.
    for (let i = 0; i < 500; i++) spsc.push(1, i, new Uint8Array(4));
    for (let i = 0; i < 500; i++) p.push(1, i, new Uint8Array(4));
    assert.equal(bell.notifies(), 1);
    assert.equal(bell.isRung(), true);
    bell.arm();
    assert.equal(bell.isRung(), false);
    p.reserve(2, 0, 8);
    assert.equal(bell.notifies(), 1, 'a reservation is not a publication');
    p.commit();
    spsc.push(1, 0, new Uint8Array(1));
    assert.equal(bell.notifies(), 2, 'two rings, one armed bell: one notification');
    assert.equal(bell.ring(), false);
  });

  test('recovering a dead producer rings the bell, so a sleeping consumer moves past its hole', () => {
    const bell = Doorbell.create();
    const mpsc = MpscRing.create(4096, { doorbell: bell, maxProducers: 2 });
    const dead = mpsc.producer(0);
    dead.reserve(1, 1, 10); // never committed
    mpsc.producer(1).push(2, 2, new Uint8Array(3));
    assert.equal(mpsc.drain(() => {}), 0);
    bell.arm();
    assert.equal(mpsc.recoverProducer(0), true);
    assert.equal(bell.isRung(), true);
    assert.equal(mpsc.drain(() => {}), 1);
  });

  test('wait() refuses the main thread', () => {
    assert.throws(() => Doorbell.create().wait(1), (e: unknown) => e instanceof RingError && e.code === 'MMO_ERR_RING_WAIT');
  });

  test('a worker consumer sleeps on the bell between bursts, wakes for each burst and misses nothing', async () => {
    const bell = Doorbell.create();
    const ring = SpscRing.create(1 << 14, bell);
    const control = new Int32Array(new SharedArrayBuffer(64));
    const w = startWorker({ mode: 'bell-consume', ring: ring.buffer, bell: bell.buffer, control: control.buffer as SharedArrayBuffer, count: 2000, waitMs: 10_000 });
    const done = once(w, 'message');
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 100; i++) while (!ring.push(1, i, new Uint8Array(12))) await sleep(1);
      await sleep(10);
    }
    const [res] = (await done) as [{ got: number; sleeps: number; timeouts: number; arms: number }];
    assert.equal(res.got, 2000);
    assert.ok(res.sleeps >= 1, 'it slept');
    assert.equal(res.timeouts, 0, 'woken by the bell, not by its 10 s timeout');
    // Coalesced: at most one notification per arm (plus the initial armed state), never one per record.
    assert.ok(bell.notifies() <= res.arms + 1, `notifications ${bell.notifies()} <= arms ${res.arms} + 1`);
    await w.exited;
  });

  test('a worker consumer waiting with nothing to read times out (returns false) and goes on', async () => {
    const bell = Doorbell.create();
    const ring = SpscRing.create(1024, bell);
    const control = new Int32Array(new SharedArrayBuffer(64));
    const w = startWorker({ mode: 'bell-consume', ring: ring.buffer, bell: bell.buffer, control: control.buffer as SharedArrayBuffer, count: 1, waitMs: 5 });
    const done = once(w, 'message');
    // Nothing is produced until it has slept twice: it cannot have been woken by a producer.
    const deadline = performance.now() + 10_000;
    while (Atomics.load(control, 1) < 2 && performance.now() < deadline) await sleep(5);
    ring.push(1, 1, new Uint8Array(1));
    const [res] = (await done) as [{ got: number; sleeps: number; timeouts: number }];
    assert.equal(res.got, 1);
    assert.ok(res.timeouts >= 1, `timed out ${res.timeouts} times while idle`);
    await w.exited;
  });
});

describe('MainThreadWaker', () => {
  test('drains a worker’s outbound ring on every ring of the bell, and does not poll while idle', async () => {
    const keepAlive = setInterval(() => {}, 1000); // Atomics.waitAsync does not hold the event loop open
    try {
      const bell = Doorbell.create();
      const ring = SpscRing.create(1 << 14, bell);
      const control = new SharedArrayBuffer(64);
      let got = 0;
      let calls = 0;
      const waker = watch(bell, () => {
        calls++;
        got += ring.drain(() => {});
      });
      const COUNT = 30_000;
      const w = startWorker({ mode: 'spsc-produce', ring: ring.buffer, control, stream: 1, count: COUNT, maxExtra: 30, batch: 3, bell: bell.buffer });
      const deadline = performance.now() + 20_000;
      while (got < COUNT && performance.now() < deadline) await sleep(5);
      assert.equal(got, COUNT);
      assert.ok(calls < COUNT / 3, `woken in batches (${calls} wake-ups for ${COUNT} records)`);
      await w.exited;
      const before = calls;
      await sleep(100);
      assert.ok(calls - before <= 1, `idle: ${calls - before} wake-ups in 100 ms`);
      // Wakes again for a later record. This thread now produces: a fresh
      // instance, which starts at the shared tail the worker left.
      const producer = new SpscRing(ring.buffer, 0, bell);
      producer.push(1, 1, new Uint8Array(4));
      const deadline2 = performance.now() + 5_000;
      while (got < COUNT + 1 && performance.now() < deadline2) await sleep(2);
      assert.equal(got, COUNT + 1);
      waker.stop();
      const stopped = calls;
      producer.push(1, 1, new Uint8Array(4));
      await sleep(50);
      assert.ok(calls - stopped <= 1, 'stop() ends the loop (at most the pending round runs)');
    } finally {
      clearInterval(keepAlive);
    }
  });

  test('an onReadable that throws is reported to onError and the waker keeps draining', async () => {
    const keepAlive = setInterval(() => {}, 1000);
    try {
      const bell = Doorbell.create();
      const ring = SpscRing.create(4096, bell);
      const errors: unknown[] = [];
      let got = 0;
      const waker = watch(
        bell,
        () => {
          got += ring.drain((type) => {
            if (type === 13) throw new Error('bad record');
          });
        },
        { onError: (e) => errors.push(e) },
      );
      ring.push(1, 0, new Uint8Array(1));
      ring.push(13, 0, new Uint8Array(1));
      ring.push(2, 0, new Uint8Array(1));
      const deadline = performance.now() + 5000;
      while (got < 1 && performance.now() < deadline) await sleep(2);
      while (!ring.isEmpty() && performance.now() < deadline) await sleep(2);
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]), /bad record/);
      assert.equal(ring.isEmpty(), true, 'the record after the poison one was drained');
      assert.equal(ring.stats().drainedRecords, 3);
      waker.stop();
    } finally {
      clearInterval(keepAlive);
    }
  });
});
