// Piscina task module of the hash pool: scrypt for registration and login.
// Synchronous scrypt on purpose: the thread is the unit of parallelism the
// pool size controls (libuv's threadpool is shared with file I/O and DNS).

import { hashPassword, verifyPassword, type ScryptParams } from '../persist/password.js';
import type { PasswordHash } from '../persist/types.js';
import { setupPoolWorker } from './thread-setup.js';

setupPoolWorker<null>('hash');

export type HashTask = { op: 'hash'; password: string; params: ScryptParams } | { op: 'verify'; password: string; stored: PasswordHash };

export default function hashTask(task: HashTask): PasswordHash | boolean {
  return task.op === 'hash' ? hashPassword(task.password, task.params) : verifyPassword(task.password, task.stored);
}
