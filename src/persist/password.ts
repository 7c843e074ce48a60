// scrypt password hashing: pure functions, run on the hash pool's threads
// (jobs/hash-worker.ts), never on the gateway. Each stored hash keeps its own
// parameters, so raising the cost later does not break older accounts.
//
// Cost on this machine (node:crypto scryptSync, r=8, p=1, one core): logN 14
// = 45 ms and 16 MiB, logN 15 = 98 ms and 32 MiB, logN 16 = 201 ms, logN 17 =
// 480 ms. The default, logN 15, is the most a 2-core game server can afford
// for a login burst; OWASP's 2^17 costs 5x more.

import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { PasswordHash } from './types.js';

export interface ScryptParams {
  /** N = 2^logN. */
  logN: number;
  r: number;
  p: number;
}

export const HASH_BYTES = 32;
export const SALT_BYTES = 16;

/** scrypt needs 128 * N * r * p bytes; Node's default limit (32 MiB) is too small from logN 15 up. */
function maxmem(p: ScryptParams): number {
  return 128 * 2 ** p.logN * p.r * p.p + 16 * 1024 * 1024;
}

export function hashPassword(password: string, params: ScryptParams, salt: Uint8Array = randomBytes(SALT_BYTES)): PasswordHash {
  const hash = scryptSync(password.normalize('NFC'), salt, HASH_BYTES, { N: 2 ** params.logN, r: params.r, p: params.p, maxmem: maxmem(params) });
  return { hash: new Uint8Array(hash), salt: new Uint8Array(salt), logN: params.logN, r: params.r, p: params.p };
}

/** Constant-time comparison of a fresh hash with the stored one. */
export function verifyPassword(password: string, stored: PasswordHash): boolean {
  const fresh = hashPassword(password, stored, stored.salt).hash;
  return fresh.length === stored.hash.length && timingSafeEqual(fresh, stored.hash);
}
