// Rings across threads, against postMessage between the same two threads in
// the same run. A worker produces as fast as it can; the main thread consumes
// (touching one payload byte per record) and counts records per 300 ms round;
// the median of 7 rounds is reported. See ringAcross for the two consumer
// modes.
//
// Also: JS-heap bytes per record in steady state, single-threaded push+drain
// through harness.heapBytesPerOp, plus the GCs seen by the consumer thread and
// the producer thread during the timed rounds (0 GCs over millions of records
// means nothing is allocated per record).
//
// Run: npm run bench -- --json ring

import { Worker } from 'node:worker_threads';
import { PerformanceObserver } from 'node:perf_hooks';
import { once } from 'node:events';
import { report, median, heapBytesPerOp } from './harness.js';
import { SpscRing, MpscRing, Doorbell, watch } from '../../src/ring/index.js';
import { kConsumed, kStop, type RingBenchWorkerData } from './ring-worker.js';

const ROUNDS = 7;
const ROUND_MS = 300;
const WARMUP_MS = 400;
const WORKER = new URL('./ring-worker.js', import.meta.url);

interface ProducerReport {
  records: number;
  heapBytesPerRecord: number;
  gcs: number;
}

interface CrossResult {
  opsPerSec: number;
  rounds: number[];
  consumerGcs: number;
  producers: ProducerReport[];
}

let sink = 0;
const touch = (_t: number, _s: number, data: Uint8Array, off: number): void => {
  sink += data[off]!;
};

function countGcs(): { stop(): Promise<number> } {
  let n = 0;
  const obs = new PerformanceObserver((list) => (n += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 10));
      obs.disconnect();
      return n;
    },
  };
}

type ConsumerMode = 'waker' | 'spin';

/**
 * 'waker': the production path. The main thread sleeps on the doorbell
 * (MainThreadWaker, Atomics.waitAsync) and drains when rung; the producer
 * rings on commit and backs off (50 us sleeps) when the ring is full. Rounds
 * are sampled by a timer.
 * 'spin': the main thread polls drain() in a tight loop. Fastest with two idle
 * cores; on a loaded machine a spinning thread burns the slices the other one
 * needs.
 */
async function ringAcross(mode: 'spsc' | 'mpsc', size: number, batch: number, producers: number, consumer: ConsumerMode): Promise<CrossResult> {
  const control = new Int32Array(new SharedArrayBuffer(64));
  const capacity = 1 << 20;
  const bell = consumer === 'waker' ? Doorbell.create() : undefined;
  const spsc = mode === 'spsc' ? SpscRing.create(capacity, bell) : null;
  const mpsc = mode === 'mpsc' ? MpscRing.create(capacity, { maxProducers: 4, doorbell: bell }) : null;
  const drain = spsc ? (): number => spsc.drain(touch, 8192) : (): number => mpsc!.drain(touch, 8192);
  const workers: Worker[] = [];
  for (let id = 0; id < producers; id++) {
    const data: RingBenchWorkerData = {
      mode,
      ring: (spsc ?? mpsc)!.buffer,
      control: control.buffer as SharedArrayBuffer,
      id,
      size,
      batch,
      warmupMs: WARMUP_MS,
      ...(bell ? { bell: bell.buffer } : {}),
    };
    workers.push(new Worker(WORKER, { workerData: data }));
  }
  const reports = workers.map((w) => once(w, 'message') as Promise<[ProducerReport]>);
  await Promise.all(workers.map((w) => once(w, 'online')));

  let n = 0;
  const rates: number[] = [];
  let gcs: { stop(): Promise<number> } | null = null;
  if (consumer === 'spin') {
    const warmEnd = performance.now() + WARMUP_MS;
    while (performance.now() < warmEnd) for (let i = 0; i < 64; i++) drain();
    (globalThis as { gc?: () => void }).gc?.();
    gcs = countGcs();
    for (let r = 0; r < ROUNDS; r++) {
      n = 0;
      const t0 = performance.now();
      let t = t0;
      while (t - t0 < ROUND_MS) {
        for (let i = 0; i < 64; i++) n += drain();
        t = performance.now();
      }
      rates.push((n * 1000) / (t - t0));
    }
  } else {
    const waker = watch(bell!, () => {
      n += drain();
    });
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    (globalThis as { gc?: () => void }).gc?.();
    gcs = countGcs();
    for (let r = 0; r < ROUNDS; r++) {
      const n0 = n;
      const t0 = performance.now();
      await new Promise((res) => setTimeout(res, ROUND_MS));
      rates.push(((n - n0) * 1000) / (performance.now() - t0));
    }
    waker.stop();
  }
  Atomics.store(control, kStop, 1);
  const consumerGcs = await gcs.stop();
  const producerReports = (await Promise.all(reports)).map(([m]) => m);
  await Promise.all(workers.map((w) => w.terminate()));
  return { opsPerSec: median(rates), rounds: rates, consumerGcs, producers: producerReports };
}

async function postMessageAcross(size: number): Promise<CrossResult> {
  const control = new Int32Array(new SharedArrayBuffer(64));
  const data: RingBenchWorkerData = { mode: 'post', control: control.buffer as SharedArrayBuffer, size, batch: 1, warmupMs: WARMUP_MS };
  const w = new Worker(WORKER, { workerData: data });
  const rates: number[] = [];
  let count = 0;
  let roundStart = 0;
  let roundCount = 0;
  const warmEnd = performance.now() + WARMUP_MS;
  let report: ProducerReport | null = null;
  let gcs: { stop(): Promise<number> } | null = null;
  let resolveRounds!: () => void;
  const roundsDone = new Promise<void>((r) => (resolveRounds = r));
  w.on('message', (m: Uint8Array | ProducerReport) => {
    if (!(m instanceof Uint8Array)) {
      report = m;
      return;
    }
    sink += m[0]!;
    count++;
    if ((count & 255) !== 0) return;
    Atomics.store(control, kConsumed, count);
    if ((count & 1023) !== 0 || rates.length >= ROUNDS) return;
    const now = performance.now();
    if (roundStart === 0) {
      if (now < warmEnd) return;
      gcs = countGcs();
      roundStart = now;
      roundCount = count;
      return;
    }
    if (now - roundStart >= ROUND_MS) {
      rates.push(((count - roundCount) * 1000) / (now - roundStart));
      roundStart = now;
      roundCount = count;
      if (rates.length === ROUNDS) resolveRounds();
    }
  });
  await roundsDone;
  Atomics.store(control, kStop, 1);
  const consumerGcs = await gcs!.stop();
  while (report === null) await new Promise((r) => setTimeout(r, 5));
  await w.terminate();
  return { opsPerSec: median(rates), rounds: rates, consumerGcs, producers: [report] };
}

/** Steady state: the smaller of two 2M-record measurements (the first pays for JIT compilation). */
function singleThreadHeap(): { spsc: number; mpsc: number } {
  const payload = new Uint8Array(16);
  const spsc = SpscRing.create(1 << 16);
  const mpsc = MpscRing.create(1 << 16);
  const p = mpsc.producer(0);
  const viaSpsc = (): void => {
    spsc.push(1, 7, payload);
    spsc.drain(touch);
  };
  const viaMpsc = (): void => {
    p.push(1, 7, payload);
    mpsc.drain(touch);
  };
  return {
    spsc: Math.min(heapBytesPerOp(viaSpsc, 2_000_000), heapBytesPerOp(viaSpsc, 2_000_000)),
    mpsc: Math.min(heapBytesPerOp(viaMpsc, 2_000_000), heapBytesPerOp(viaMpsc, 2_000_000)),
  };
}

const heap = singleThreadHeap();
const post16 = await postMessageAcross(16);
report({ name: 'ring.postMessage.16B (baseline)', opsPerSec: post16.opsPerSec, consumerGcs: post16.consumerGcs, producerGcs: post16.producers[0]!.gcs });

const cases: Array<{ name: string; mode: 'spsc' | 'mpsc'; size: number; batch: number; producers: number; consumer: ConsumerMode; heap?: number }> = [
  { name: 'ring.spsc.16B', mode: 'spsc', size: 16, batch: 1, producers: 1, consumer: 'waker', heap: heap.spsc },
  { name: 'ring.spsc.128B', mode: 'spsc', size: 128, batch: 1, producers: 1, consumer: 'waker' },
  { name: 'ring.spsc.16B.batch32', mode: 'spsc', size: 16, batch: 32, producers: 1, consumer: 'waker' },
  { name: 'ring.mpsc.2p.16B', mode: 'mpsc', size: 16, batch: 1, producers: 2, consumer: 'waker', heap: heap.mpsc },
  { name: 'ring.spsc.16B.spin', mode: 'spsc', size: 16, batch: 1, producers: 1, consumer: 'spin' },
  { name: 'ring.mpsc.2p.16B.spin', mode: 'mpsc', size: 16, batch: 1, producers: 2, consumer: 'spin' },
];
// Keeps the process alive while the waker sleeps in Atomics.waitAsync.
const keepAlive = setInterval(() => {}, 1000);
for (const c of cases) {
  const r = await ringAcross(c.mode, c.size, c.batch, c.producers, c.consumer);
  report({
    name: c.name,
    opsPerSec: r.opsPerSec,
    vsPostMessage: r.opsPerSec / post16.opsPerSec,
    ...(c.heap !== undefined ? { heapBytesPerRecord: c.heap } : {}),
    consumerGcs: r.consumerGcs,
    producerGcs: r.producers.reduce((a, p) => a + p.gcs, 0),
    producerHeapBytesPerRecord: Math.max(...r.producers.map((p) => p.heapBytesPerRecord)),
    mbPerSec: (r.opsPerSec * c.size) / 1e6,
  });
}
clearInterval(keepAlive);
if (sink === -1) console.log(sink);
