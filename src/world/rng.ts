// Deterministic seeded PRNG for the simulation: xoshiro128** (Blackman and
// Vigna), seeded through splitmix32. Math.random is never used in src/world:
// the same seed and the same inputs must give the same world, and a
// checkpoint must carry the generator's exact state.
//
// 128 bits of state in a Uint32Array so a checkpoint copies it verbatim.
// The tick path uses only next32/below/int: integers in, integers out, so
// nothing is boxed even when V8 does not inline the call (see scratch.ts).
// float/range/chance return or take fractional doubles: for cold paths.

export class Rng {
  /** The four state words; read and written by checkpoints. */
  readonly state = new Uint32Array(4);

  constructor(seed = 1) {
    this.seed(seed);
  }

  /** Resets the state from a 32-bit seed (splitmix32, so seed 0 is fine). */
  seed(seed: number): void {
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      this.state[i] = (t ^ (t >>> 16)) >>> 0;
    }
    // xoshiro must not start from all zeros.
    if ((this.state[0]! | this.state[1]! | this.state[2]! | this.state[3]!) === 0) this.state[0] = 1;
  }

  /** Next 32 random bits as an unsigned integer. */
  nextU32(): number {
    return this.next32() >>> 0;
  }

  /** Next 32 random bits as a signed 32-bit integer (a V8 small integer). */
  next32(): number {
    const s = this.state;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const s2 = s[2]!;
    const s3 = s[3]!;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    s[1] = s1 ^ n2;
    s[0] = s0 ^ n3;
    s[2] = n2 ^ t;
    s[3] = rotl(n3, 11);
    return result;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return (this.next32() >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n), for an integer n from 1 to 2^32. */
  below(n: number): number {
    return Math.floor(((this.next32() >>> 0) / 4294967296) * n);
  }

  /** Uniform float in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [lo, hi] (inclusive; hi - lo < 2^32). */
  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
