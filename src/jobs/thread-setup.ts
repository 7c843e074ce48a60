// Pool workers (piscina) name and place themselves: a thread started by the
// gateway after it named and pinned itself inherits its name and CPU mask,
// so without this every pool thread would show as "gateway" on CPU 0.

import { workerData } from 'node:worker_threads';
import { setupThread, type ThreadsShared } from '../../native-bindings/threads.js';

/** Workers' workerData carries the shared thread table here (absent in tests that build pools directly). */
export interface PoolWorkerData<T> {
  job: T;
  threads?: ThreadsShared;
}

/** Claims the next free `<role>-N` name, names and places this thread. Returns the job's own workerData. */
export function setupPoolWorker<T>(role: string): T {
  const data = workerData as PoolWorkerData<T>;
  if (data.threads) setupThread({ role, index: 'any', shared: data.threads });
  return data.job;
}
