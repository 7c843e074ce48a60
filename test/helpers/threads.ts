// Helpers for the native-bindings tests: worker fixtures and /proc readers.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { ThreadsShared } from '../../native-bindings/threads.js';
import type { ThreadWorkerCommand, ThreadWorkerState } from '../fixtures/thread-worker.js';

export const FIXTURE = new URL('../fixtures/thread-worker.js', import.meta.url);

export interface FixtureWorker {
  worker: Worker;
  first: ThreadWorkerState;
  /** Sends a command and resolves with the next message. */
  ask<T = ThreadWorkerState>(cmd: ThreadWorkerCommand): Promise<T>;
  stop(): Promise<void>;
}

export async function startFixture(role: string, index: number | 'any' | undefined, threads: ThreadsShared): Promise<FixtureWorker> {
  const worker = new Worker(FIXTURE, { workerData: { role, index, threads } });
  const [first] = (await Promise.race([
    once(worker, 'message'),
    once(worker, 'error').then(([e]) => {
      throw e;
    }),
  ])) as [ThreadWorkerState];
  return {
    worker,
    first,
    ask: async <T>(cmd: ThreadWorkerCommand) => {
      const reply = once(worker, 'message') as Promise<[T]>;
      worker.postMessage(cmd);
      return (await reply)[0];
    },
    stop: async () => {
      await worker.terminate();
    },
  };
}

/** /proc/<pid>/task/<tid>/comm of a thread. */
export function commOf(tid: number, pid = process.pid): string {
  return readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trimEnd();
}

/** utime+stime of one thread from /proc, seconds: an independent check of the addon's clock. */
export function procCpuOf(tid: number, pid = process.pid): number {
  const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
