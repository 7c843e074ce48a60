// What one wake-up costs the thread that sends it: Doorbell.ring() when the
// consumer armed the bell (an Atomics.notify), against ring() when it did not
// (the baseline: one load). The consumer sleeps as a zone does
// (Atomics.wait) or as a gateway thread does (Atomics.waitAsync). Time is
// measured around the call on the producer (the main thread), per call;
// medians of rounds.
//
// Why: a wall-clock CPU profile of the main thread puts a quarter of its
// samples in Doorbell.ring at 300 notifies a second; this says what the
// call itself costs (loadtest/README.md, the capacity model).
//
// Run: npm run bench -- --json notify

import { Worker } from 'node:worker_threads';
import { report, median, percentile } from './harness.js';
import { Doorbell } from '../../src/ring/index.js';
import type { NotifyWorkerData } from './notify-worker.js';

const CALLS = 2000;
const ROUNDS = 3;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function round(wait: 'sync' | 'async'): Promise<{ notifyNs: number[]; armedSeen: number }> {
  const bell = Doorbell.create();
  const control = new SharedArrayBuffer(4);
  const w = new Worker(new URL('./notify-worker.js', import.meta.url), { workerData: { bell: bell.buffer, control, wait } satisfies NotifyWorkerData });
  await new Promise((r) => w.once('online', r));
  const notifyNs: number[] = [];
  let armedSeen = 0;
  for (let i = 0; i < CALLS; i++) {
    // Wait (without blocking the loop) until the consumer armed again: each call below then notifies.
    for (let spins = 0; bell.isRung(); spins++) if (spins > 1000) await sleep(0);
    const t = process.hrtime.bigint();
    const sent = bell.ring();
    const dt = Number(process.hrtime.bigint() - t);
    if (sent) {
      armedSeen++;
      notifyNs.push(dt);
    }
  }
  Atomics.store(new Int32Array(control), 0, 1);
  bell.ring();
  await w.terminate();
  return { notifyNs, armedSeen };
}

function baselineNs(): number[] {
  // A bell nobody armed: ring() is one load and returns.
  const bell = Doorbell.create();
  Atomics.store(bell.word, 0, 1);
  const out: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t = process.hrtime.bigint();
    bell.ring();
    out.push(Number(process.hrtime.bigint() - t));
  }
  return out;
}

const base: number[] = [];
for (let r = 0; r < ROUNDS; r++) base.push(median(baselineNs()));
report({ name: 'notify.baseline.notArmed', opsPerSec: 1e9 / median(base), nsPerCallP50: median(base) });

for (const wait of ['sync', 'async'] as const) {
  const p50: number[] = [];
  const p99: number[] = [];
  const mean: number[] = [];
  let sent = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const x = await round(wait);
    sent += x.armedSeen;
    p50.push(median(x.notifyNs));
    p99.push(percentile(x.notifyNs, 99));
    mean.push(x.notifyNs.reduce((a, b) => a + b, 0) / x.notifyNs.length);
  }
  report({
    name: `notify.armed.${wait === 'sync' ? 'atomicsWait' : 'waitAsync'}`,
    opsPerSec: 1e9 / median(p50),
    nsPerCallP50: median(p50),
    nsPerCallP99: median(p99),
    nsPerCallMean: median(mean),
    notifies: sent,
    vsBaseline: median(p50) / median(base),
    consumer: wait === 'sync' ? 'a zone worker (Atomics.wait)' : 'a gateway thread (Atomics.waitAsync)',
  });
}
