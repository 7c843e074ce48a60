// Consumer thread of notify.bench: sleeps on the doorbell the way a zone
// (Atomics.wait) or a gateway thread (Atomics.waitAsync) does, re-arming
// after each wake-up, until control[0] is 1.

import { workerData } from 'node:worker_threads';
import { Doorbell } from '../../src/ring/index.js';

export interface NotifyWorkerData {
  bell: SharedArrayBuffer;
  control: SharedArrayBuffer;
  wait: 'sync' | 'async';
}

const d = workerData as NotifyWorkerData;
const bell = new Doorbell(d.bell);
const control = new Int32Array(d.control);

if (d.wait === 'sync') {
  while (Atomics.load(control, 0) === 0) {
    bell.arm();
    bell.wait(100);
  }
} else {
  // waitAsync keeps nothing alive: a timer does, until told to stop.
  const keep = setInterval(() => {
    if (Atomics.load(control, 0) !== 0) clearInterval(keep);
  }, 20);
  const loop = async (): Promise<void> => {
    while (Atomics.load(control, 0) === 0) {
      bell.arm();
      const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync(bell.word, 0, 0, 100);
      if (r.async) await r.value;
    }
  };
  void loop();
}
