// Token buckets keyed by source address, for the HTTP /auth/* endpoints.
// A bucket holds up to `burst` tokens and refills at `perMinute`; a request
// takes one or is told how long until one is there.
//
// Memory is bounded: at most maxKeys buckets. A bucket that has refilled to
// full is the same as no bucket, so those are dropped first; if that is not
// enough, the least recently used eighth goes. Only an attacker with more
// than maxKeys addresses inside one refill period can reset someone's bucket
// that way.

export interface RateLimitOptions {
  burst: number;
  perMinute: number;
  /** Most addresses tracked at once. Default 100,000 (~10 MB). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  /** ms of the last refill. */
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly maxKeys: number;

  constructor(private readonly opts: RateLimitOptions) {
    this.perMs = opts.perMinute / 60_000;
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  /** Takes one token for `key`: 0 when allowed, else the ms until a token is available. */
  take(key: string, nowMs: number): number {
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.opts.burst, b.tokens + (nowMs - b.at) * this.perMs);
      b.at = nowMs;
      // Re-insert: Map order becomes least-recently-used first.
      this.buckets.delete(key);
    } else {
      if (this.buckets.size >= this.maxKeys) this.evict(nowMs);
      b = { tokens: this.opts.burst, at: nowMs };
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.perMs);
  }

  /** The ms until `key` has a token, without taking one (0: it has one now). */
  wait(key: string, nowMs: number): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.opts.burst, b.tokens + (nowMs - b.at) * this.perMs);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.perMs);
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(nowMs: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (nowMs - b.at) * this.perMs >= this.opts.burst) this.buckets.delete(k);
    }
    // Still full: drop the least recently used tenth.
    if (this.buckets.size >= this.maxKeys) {
      let drop = Math.max(1, this.maxKeys >> 3);
      for (const k of this.buckets.keys()) {
        this.buckets.delete(k);
        if (--drop === 0) break;
      }
    }
  }
}
