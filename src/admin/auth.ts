// Who may use /admin/: a request carrying `Authorization: Bearer <admin.token>`.
// Compared in constant time (SHA-256 of both sides, then timingSafeEqual, so
// neither the length nor a prefix of the token leaks through timing). Wrong or
// missing tokens are rate-limited per source address, as /auth/login is: each
// failure takes a token from the address's bucket, and an address with an
// empty bucket gets 429 before its token is even looked at, right or wrong,
// so guessing costs the guesser time. A right token costs nothing (the
// dashboard polls several routes a second).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { RateLimiter } from '../net/rate-limit.js';

export type AuthOutcome = { ok: true } | { ok: false; status: 401 | 429; retryAfterMs: number };

const BEARER = /^Bearer\s+(.+)$/i;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class AdminAuth {
  private readonly want: Buffer;

  constructor(
    token: string,
    private readonly limiter: RateLimiter,
    private readonly now: () => number = Date.now,
  ) {
    if (token.length === 0) throw new RangeError('admin token must not be empty');
    this.want = digest(token);
  }

  /** `header` is the request's Authorization header ('' when absent); `ip` its source address. */
  check(header: string, ip: string): AuthOutcome {
    const t = this.now();
    const wait = this.limiter.wait(ip, t);
    if (wait > 0) return { ok: false, status: 429, retryAfterMs: wait };
    const m = BEARER.exec(header);
    const got = digest(m ? m[1]!.trim() : '');
    if (m && timingSafeEqual(got, this.want)) return { ok: true };
    const retry = this.limiter.take(ip, t);
    return { ok: false, status: retry > 0 ? 429 : 401, retryAfterMs: retry };
  }
}
