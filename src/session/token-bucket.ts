/**
 * A token bucket: `rate` tokens per second up to `burst`. take() is the hot
 * call: two float ops and a compare, no allocation. Time comes from the
 * caller (ms) so a whole flush uses one clock read and tests control time.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private rate: number,
    private burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.last = nowMs;
  }

  /** Takes `n` tokens if at least `floor` would remain (a reserve for higher-priority takers). */
  take(nowMs: number, n = 1, floor = 0): boolean {
    this.refill(nowMs);
    if (this.tokens - n >= floor) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  /** Milliseconds until take(n, floor) can succeed (0 if it can now). */
  waitMs(nowMs: number, n = 1, floor = 0): number {
    this.refill(nowMs);
    const missing = n + floor - this.tokens;
    if (missing <= 0) return 0;
    return this.rate > 0 ? Math.ceil((missing / this.rate) * 1000) : Infinity;
  }

  /** Tokens available now (tests, metrics). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  private refill(nowMs: number): void {
    const dt = nowMs - this.last;
    if (dt > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (dt * this.rate) / 1000);
      this.last = nowMs;
    }
  }
}
