// The gateway's handle on the hash pool: scrypt runs on its own threads so a
// login burst costs CPU elsewhere, never gateway latency. The queue is
// bounded: past maxQueue waiting hashes, hash()/verify() reject with
// MMO_ERR_AUTH_BUSY and the HTTP layer answers 503 instead of letting
// requests pile up behind a CPU that cannot keep up.

import { Piscina } from 'piscina';
import type { HashTask } from '../jobs/hash-worker.js';
import type { ScryptParams } from './password.js';
import type { PasswordHash } from './types.js';
import type { ThreadsShared } from '../../native-bindings/threads.js';
import type { PoolWorkerData } from '../jobs/thread-setup.js';

const WORKER = new URL('../jobs/hash-worker.js', import.meta.url).href;

export interface PasswordPoolOptions {
  params: ScryptParams;
  threads: number;
  maxQueue: number;
  /** The shared thread table: hashing threads name and place themselves (hash-N). */
  threadsShared?: ThreadsShared;
}

export class HashBusyError extends Error {
  readonly code = 'MMO_ERR_AUTH_BUSY';
  constructor() {
    super('password hashing queue is full');
    this.name = 'HashBusyError';
  }
}

export class PasswordPool {
  private readonly pool: Piscina<HashTask, PasswordHash | boolean>;
  /** A hash of nothing, with the current parameters: unknown names are verified against it so they cost as much as known ones. */
  private dummy: Promise<PasswordHash> | null = null;

  constructor(readonly opts: PasswordPoolOptions) {
    this.pool = new Piscina<HashTask, PasswordHash | boolean>({
      filename: WORKER,
      minThreads: 0,
      maxThreads: opts.threads,
      maxQueue: opts.maxQueue,
      // Threads are spawned on the first login and kept for a while after the last.
      idleTimeout: 60_000,
      workerData: { job: null, threads: opts.threadsShared } satisfies PoolWorkerData<null>,
    });
  }

  /** Computes the stand-in hash for unknown names ahead of the first login (start-up). */
  prepare(): Promise<void> {
    this.dummy ??= this.hash('');
    return this.dummy.then(() => undefined);
  }

  private async run<T extends PasswordHash | boolean>(task: HashTask): Promise<T> {
    if (this.pool.queueSize >= this.opts.maxQueue) throw new HashBusyError();
    try {
      return (await this.pool.run(task)) as T;
    } catch (err) {
      if (/queue is at limit/i.test((err as Error).message)) throw new HashBusyError();
      throw err;
    }
  }

  /** A new salted hash with the configured parameters. */
  hash(password: string): Promise<PasswordHash> {
    return this.run<PasswordHash>({ op: 'hash', password, params: this.opts.params });
  }

  /** True when the password matches. With stored = null (unknown account) it does the same work and answers false. */
  async verify(password: string, stored: PasswordHash | null): Promise<boolean> {
    if (stored) return this.run<boolean>({ op: 'verify', password, stored });
    this.dummy ??= this.hash('');
    await this.run<boolean>({ op: 'verify', password, stored: await this.dummy });
    return false;
  }

  /** Hash operations finished since start (tests check that every login costs one). */
  get completed(): number {
    return this.pool.completed;
  }

  /** Hashes waiting for a thread. */
  get queued(): number {
    return this.pool.queueSize;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
