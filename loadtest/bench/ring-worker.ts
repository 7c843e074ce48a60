// Producer thread of ring.bench: produces until control[kStop] is set, then
// posts { records, heapBytesPerRecord, gcs } measured after its warm-up.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';
import { SpscRing, MpscRing, Doorbell } from '../../src/ring/index.js';

export interface RingBenchWorkerData {
  mode: 'spsc' | 'mpsc' | 'post';
  ring?: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** MPSC producer id. */
  id?: number;
  size: number;
  /** Records per commit (1 = push). */
  batch: number;
  warmupMs: number;
  /** When set, every commit rings this doorbell (the consumer sleeps on it). */
  bell?: SharedArrayBuffer;
}

export const kStop = 0;
/** postMessage mode: messages the main thread has received (flow control). */
export const kConsumed = 1;
const POST_WINDOW = 20_000;

// The bench imports the constants above; the rest runs only in the worker.
if (!isMainThread) run();

function run(): void {
  const d = workerData as RingBenchWorkerData;
  const control = new Int32Array(d.control);
  const payload = new Uint8Array(d.size);
  for (let i = 0; i < payload.length; i++) payload[i] = i;
  const gc = (globalThis as { gc?: () => void }).gc;
  const bell = d.bell ? new Doorbell(d.bell) : undefined;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let blocked = 0;
  /** Full ring (or post window): spin briefly, then sleep 50 us so a consumer sharing this core can run. */
  const backoff = (): boolean => {
    if (++blocked < 64) return Atomics.load(control, kStop) !== 0;
    blocked = 0;
    Atomics.wait(sleeper, 0, 0, 0.05);
    return Atomics.load(control, kStop) !== 0;
  };

  let gcs = 0;
  const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });

  let records = 0;
  let base = 0;
  let heap0 = 0;
  let measuring = false;
  const warmEnd = performance.now() + d.warmupMs;

  function startMeasuring(): void {
    gc?.();
    heap0 = getHeapStatistics().used_heap_size;
    base = records;
    gcs = 0;
    measuring = true;
  }

  // Checks the clock and the stop flag every 4096 records: the loops below are
  // the measured hot paths and do nothing else.
  function produceSpsc(ring: SpscRing): void {
    for (;;) {
      for (let i = 0; i < 4096; ) {
        if (d.batch === 1) {
          if (ring.push(1, i, payload)) {
            i++;
            records++;
          } else if (backoff()) return;
        } else {
          let n = 0;
          for (; n < d.batch; n++) {
            const off = ring.reserve(1, i + n, d.size);
            if (off < 0) break;
            ring.data.set(payload, off);
          }
          ring.commit();
          i += n;
          records += n;
          if (n === 0 && backoff()) return;
        }
      }
      if (Atomics.load(control, kStop) !== 0) return;
      if (!measuring && performance.now() > warmEnd) startMeasuring();
    }
  }

  function produceMpsc(ring: MpscRing, id: number): void {
    const p = ring.producer(id);
    for (;;) {
      for (let i = 0; i < 4096; ) {
        if (p.push(1, i, payload)) {
          i++;
          records++;
        } else if (backoff()) {
          p.detach();
          return;
        }
      }
      if (Atomics.load(control, kStop) !== 0) {
        p.detach();
        return;
      }
      if (!measuring && performance.now() > warmEnd) startMeasuring();
    }
  }

  function producePost(): void {
    const port = parentPort!;
    for (;;) {
      for (let i = 0; i < 1024; i++) {
        while (records - Atomics.load(control, kConsumed) > POST_WINDOW) {
          if (backoff()) return;
        }
        port.postMessage(payload);
        records++;
      }
      if (Atomics.load(control, kStop) !== 0) return;
      if (!measuring && performance.now() > warmEnd) startMeasuring();
    }
  }

  if (d.mode === 'spsc') produceSpsc(new SpscRing(d.ring!, 0, bell));
  else if (d.mode === 'mpsc') produceMpsc(new MpscRing(d.ring!, 0, bell), d.id!);
  else producePost();

  // Let the GC observer deliver, then report.
  setTimeout(() => {
    const n = records - base;
    const grown = getHeapStatistics().used_heap_size - heap0;
    obs.disconnect();
    parentPort!.postMessage({ records: n, heapBytesPerRecord: n > 0 ? Math.max(0, grown) / n : Number.NaN, gcs });
  }, 20);
}
