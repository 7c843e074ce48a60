// How the main thread learns that an outbound ring has data. A worker
// produces into an SPSC ring; the main thread is told by one of:
//   immediate   poll the ring on setImmediate
//   timer       poll the ring on a 1 ms setTimeout
//   waitAsync   Atomics.waitAsync on the doorbell (what MainThreadWaker does)
//   postMessage the producer posts one message per empty->non-empty transition
// For each: wake latency (producer commit -> main-thread handler, p50/p99,
// producer sleeping 0.2-2 ms between records), throughput (producer pushing
// as fast as it can, commit + doorbell per record), idle CPU (no traffic, 1 s).
//
// Run: npm run bench -- --json wake

import { Worker } from 'node:worker_threads';
import { report, median, percentile } from './harness.js';
import { Doorbell, SpscRing, MainThreadWaker } from '../../src/ring/index.js';
import type { WakeWorkerData } from './wake-worker.js';

type Mode = 'immediate' | 'timer' | 'waitAsync' | 'postMessage';
const MODES: Mode[] = ['immediate', 'timer', 'waitAsync', 'postMessage'];
const LATENCY_SAMPLES = 1500;
const THROUGHPUT_RECORDS = 2_000_000;

interface Consumer {
  stop(): void;
}

/** Starts the main-thread side of a mode, calling `drain` whenever it learns there may be data. */
function startConsumer(mode: Mode, ring: SpscRing, bell: Doorbell, worker: Worker, drain: () => void): Consumer {
  let running = true;
  switch (mode) {
    case 'immediate': {
      const loop = (): void => {
        if (!running) return;
        drain();
        setImmediate(loop);
      };
      setImmediate(loop);
      return { stop: () => (running = false) };
    }
    case 'timer': {
      let t: NodeJS.Timeout;
      const loop = (): void => {
        drain();
        t = setTimeout(loop, 1);
      };
      t = setTimeout(loop, 1);
      return { stop: () => clearTimeout(t) };
    }
    case 'waitAsync': {
      const w = new MainThreadWaker(bell, drain);
      w.start();
      return { stop: () => w.stop() };
    }
    case 'postMessage': {
      const onMsg = (): void => {
        bell.arm();
        drain();
      };
      worker.on('message', onMsg);
      bell.arm();
      drain();
      return { stop: () => worker.off('message', onMsg) };
    }
  }
}

async function run(mode: Mode): Promise<void> {
  const bell = Doorbell.create();
  const ring = SpscRing.create(1 << 20, bell);
  const control = new Int32Array(new SharedArrayBuffer(64));
  const data: WakeWorkerData = { ring: ring.buffer, bell: bell.buffer, control: control.buffer as SharedArrayBuffer, notify: mode === 'postMessage' ? 'post' : 'atomics' };
  const worker = new Worker(new URL('./wake-worker.js', import.meta.url), { workerData: data });
  await new Promise((r) => worker.once('online', r));
  // Keeps the process alive while waiting on waitAsync (which does not ref the loop).
  const keepAlive = setInterval(() => {}, 1000);

  // Idle CPU: nothing produced for 1 s.
  const idleDrain = (): void => {
    ring.drain(() => {});
  };
  let consumer = startConsumer(mode, ring, bell, worker, idleDrain);
  await new Promise((r) => setTimeout(r, 100));
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, 1000));
  const cpu = process.cpuUsage(cpu0);
  const idleCpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - w0)) * 100;
  consumer.stop();

  // Latency: producer stamps hrtime, sleeps 0.2-2 ms, repeats.
  const lat: number[] = [];
  let received = 0;
  const stampView = new Float64Array(ring.data.buffer, ring.data.byteOffset, ring.data.length / 8);
  const latencyDrain = (): void => {
    ring.drain((_t, _s, _d, off) => {
      const sent = stampView[off >> 3]!;
      lat.push((Number(process.hrtime.bigint()) - sent) / 1000);
      received++;
    });
  };
  consumer = startConsumer(mode, ring, bell, worker, latencyDrain);
  Atomics.store(control, 1, LATENCY_SAMPLES);
  Atomics.store(control, 0, 1); // phase 1: latency
  Atomics.notify(control, 0);
  while (received < LATENCY_SAMPLES) await new Promise((r) => setTimeout(r, 20));
  consumer.stop();

  // Throughput: producer pushes THROUGHPUT_RECORDS 16-byte records as fast as it can.
  let got = 0;
  const tpDrain = (): void => {
    got += ring.drain(() => {});
  };
  consumer = startConsumer(mode, ring, bell, worker, tpDrain);
  const t0 = performance.now();
  Atomics.store(control, 1, THROUGHPUT_RECORDS);
  Atomics.store(control, 0, 2); // phase 2: throughput
  Atomics.notify(control, 0);
  while (got < THROUGHPUT_RECORDS) await new Promise((r) => setImmediate(r));
  const secs = (performance.now() - t0) / 1000;
  consumer.stop();

  Atomics.store(control, 0, 3); // exit
  Atomics.notify(control, 0);
  await new Promise((r) => worker.once('exit', r));
  clearInterval(keepAlive);

  report({
    name: `wake.${mode}`,
    opsPerSec: THROUGHPUT_RECORDS / secs,
    latencyP50us: median(lat),
    latencyP99us: percentile(lat, 99),
    latencyMaxUs: Math.max(...lat),
    idleCpuPct,
    samples: lat.length,
  });
}

for (const m of MODES) await run(m);
