// Producer thread of wake.bench: control[0] selects the phase (1 latency,
// 2 throughput, 3 exit), control[1] the record count.

import { parentPort, workerData } from 'node:worker_threads';
import { Doorbell, SpscRing, BELL_ARMED, BELL_RUNG } from '../../src/ring/index.js';

export interface WakeWorkerData {
  ring: SharedArrayBuffer;
  bell: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** 'atomics': Doorbell.ring(); 'post': a coalesced postMessage instead of Atomics.notify. */
  notify: 'atomics' | 'post';
}

const d = workerData as WakeWorkerData;
const control = new Int32Array(d.control);
const bell = new Doorbell(d.bell);
// With 'post' the ring has no doorbell: we ring by hand and post instead of notifying.
const ring = new SpscRing(d.ring, 0, d.notify === 'atomics' ? bell : undefined);
const stamps = new Float64Array(ring.data.buffer, ring.data.byteOffset, ring.data.length / 8);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const port = parentPort!;

function ringByPost(): void {
  const w = bell.word;
  if (Atomics.load(w, 0) === BELL_ARMED && Atomics.exchange(w, 0, BELL_RUNG) === BELL_ARMED) port.postMessage(0);
}

let seed = 12345;
function rand(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}

const payload = new Uint8Array(16);
for (;;) {
  Atomics.wait(control, 0, 0);
  const phase = Atomics.load(control, 0);
  if (phase === 3) break;
  const n = Atomics.load(control, 1);
  if (phase === 1) {
    for (let i = 0; i < n; i++) {
      Atomics.wait(sleeper, 0, 0, 0.2 + rand() * 1.8);
      const off = ring.reserve(1, i, 8);
      stamps[off >> 3] = Number(process.hrtime.bigint());
      ring.commit();
      if (d.notify === 'post') ringByPost();
    }
  } else if (phase === 2) {
    for (let i = 0; i < n; ) {
      if (ring.push(1, i, payload)) {
        i++;
        if (d.notify === 'post') ringByPost();
      }
    }
  }
  Atomics.compareExchange(control, 0, phase, 0);
}
