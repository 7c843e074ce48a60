// Paged buffer pool: slices of shared memory handed out and returned without
// garbage-collector churn, for per-session outbound queues and replay buffers.
//
// Memory: pages of `pageSize` bytes (a power of two), grouped into page sets;
// one SharedArrayBuffer per set, so a slice can be referenced from another
// thread once that thread has the set's buffer (setBuffer / setIndex).
// Grows a set at a time up to maxPages; trim() gives whole free sets back but
// never goes below minPages.
//
// Slices: a page serves one size class (slab allocation). alloc(size) takes
// the smallest class >= size; classes step by 1/classesPerDoubling of a power
// of two (64, 80, 96, 112, 128, 160, ...), each widened to the largest size
// with the same number of slices per page, up to one whole page. Slices are
// 8-byte aligned. A page's free slices are a bitmap: O(1) alloc and free.
//
// Handles are non-negative numbers below 2^30 (small integers, no object per
// slice): [page | slice | generation]. The generation, bumped at each free,
// makes a double free and a stale handle (freed, its slice reused) detectable.
//
// Concurrency: single-threaded. The thread that creates the pool (the gateway)
// is the only one that calls alloc/free/trim. Other threads may read and write
// the bytes of slices they were handed, never the metadata.

import { PoolError } from './errors.js';

export interface PoolOptions {
  /** Page size in bytes: a power of two from 4 KiB to 1 MiB. Default 16 KiB. */
  pageSize?: number;
  /** Pages per SharedArrayBuffer (growth step): a power of two from 1 to 4096. Default 64 (1 MiB). */
  pagesPerSet?: number;
  /** Floor: pages allocated at start and never trimmed. Rounded up to whole sets. Default 64. */
  minPages?: number;
  /** Ceiling: alloc() returns -1 beyond it. A multiple of pagesPerSet. Default 16384 (256 MiB of 16 KiB pages). */
  maxPages?: number;
  /** Smallest slice: a power of two from 16 to pageSize. Default 64. */
  minSlice?: number;
  /** Size classes per doubling (1 = powers of two; 4 wastes at most ~20%). 1..8, default 4. */
  classesPerDoubling?: number;
}

export interface PoolStats {
  pageSize: number;
  pagesTotal: number;
  /** Pages serving a size class (some may be empty and kept as a class's spare). */
  pagesInUse: number;
  pagesHighWater: number;
  pageSets: number;
  liveSlices: number;
  /** Sum of the sizes of live slices (class sizes, not requested sizes). */
  bytesInUse: number;
  /** alloc() that returned -1 (ceiling reached, or size out of range). */
  failedAllocs: number;
  /** free() that returned false (double free, stale or foreign handle). */
  badFrees: number;
  grows: number;
  /** Pages given back by trim(). */
  trimmedPages: number;
}

const EMPTY = new Uint8Array(0);
/** Handles stay below 2^30: small integers in V8 even with pointer compression. */
const HANDLE_BITS = 30;

function pow2(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max && (n & (n - 1)) === 0;
}

function log2(n: number): number {
  return 31 - Math.clz32(n);
}

export class BufferPool {
  readonly pageSize: number;
  readonly pagesPerSet: number;
  readonly minPages: number;
  readonly maxPages: number;
  /** Slice size of each class, ascending; the last is pageSize. */
  readonly classSizes: Int32Array;

  private readonly classSlots: Int32Array;
  /** Class of a size, indexed by ceil(size / 8). */
  private readonly sizeClass: Uint8Array;
  private readonly slotBits: number;
  private readonly genBits: number;
  private readonly genMask: number;
  private readonly slotMask: number;
  private readonly setShift: number;
  private readonly setMask: number;
  /** Bitmap words per page (enough for the smallest class). */
  private readonly words: number;

  // Per page (global page index = set * pagesPerSet + page in set).
  private readonly pageClass: Int16Array;
  private readonly pageUsed: Int32Array;
  private readonly pageNext: Int32Array;
  private readonly pagePrev: Int32Array;
  /** Head of each class's list of pages with a free slice, -1 if none. */
  private readonly classHead: Int32Array;
  private readonly freePages: Int32Array;
  private freeCount = 0;

  // Per page set; null once trimmed.
  private readonly sets: Array<SharedArrayBuffer | null> = [];
  private readonly views: Array<Uint8Array | null> = [];
  private readonly bitmaps: Array<Int32Array | null> = [];
  private readonly gens: Array<Uint8Array | null> = [];

  private pagesTotal = 0;
  private pagesInUse = 0;
  private pagesHighWater = 0;
  private liveSlices = 0;
  private bytesInUse = 0;
  private failedAllocs = 0;
  private badFrees = 0;
  private grows = 0;
  private trimmedPages = 0;

  /** Cold path: validates the options (throws PoolError MMO_ERR_POOL_CONFIG) and allocates the floor. */
  constructor(opts: PoolOptions = {}) {
    const pageSize = opts.pageSize ?? 16384;
    const pagesPerSet = opts.pagesPerSet ?? 64;
    const minSlice = opts.minSlice ?? 64;
    const perDoubling = opts.classesPerDoubling ?? 4;
    const maxPages = opts.maxPages ?? 16384;
    if (!pow2(pageSize, 4096, 1 << 20)) throw new PoolError(`pageSize must be a power of two from 4096 to 1048576, got ${pageSize}`);
    if (!pow2(pagesPerSet, 1, 4096)) throw new PoolError(`pagesPerSet must be a power of two from 1 to 4096, got ${pagesPerSet}`);
    if (!pow2(minSlice, 16, pageSize)) throw new PoolError(`minSlice must be a power of two from 16 to pageSize (${pageSize}), got ${minSlice}`);
    if (!Number.isInteger(perDoubling) || perDoubling < 1 || perDoubling > 8) throw new PoolError(`classesPerDoubling must be an integer from 1 to 8, got ${perDoubling}`);
    if (!Number.isInteger(maxPages) || maxPages < pagesPerSet || maxPages % pagesPerSet !== 0) {
      throw new PoolError(`maxPages must be a positive multiple of pagesPerSet (${pagesPerSet}), got ${maxPages}`);
    }
    const minPagesRaw = opts.minPages ?? Math.min(64, maxPages);
    if (!Number.isInteger(minPagesRaw) || minPagesRaw < 0 || minPagesRaw > maxPages) throw new PoolError(`minPages must be an integer from 0 to maxPages (${maxPages}), got ${minPagesRaw}`);
    const slotBits = log2(pageSize / minSlice);
    const pageBits = Math.max(1, Math.ceil(Math.log2(maxPages)));
    const genBits = Math.min(8, HANDLE_BITS - slotBits - pageBits);
    if (genBits < 2) {
      throw new PoolError(`maxPages ${maxPages} with ${pageSize / minSlice} slices per page leaves no room for handle generations; lower maxPages or raise minSlice`);
    }
    this.pageSize = pageSize;
    this.pagesPerSet = pagesPerSet;
    this.maxPages = maxPages;
    this.minPages = Math.ceil(minPagesRaw / pagesPerSet) * pagesPerSet;
    this.slotBits = slotBits;
    this.slotMask = (1 << slotBits) - 1;
    this.genBits = genBits;
    this.genMask = (1 << genBits) - 1;
    this.setShift = log2(pagesPerSet);
    this.setMask = pagesPerSet - 1;
    this.words = Math.max(1, (pageSize / minSlice) >> 5);

    // Size classes (cold path): geometric steps, each widened to the largest
    // 8-aligned size with the same slices per page, deduplicated.
    const sizes: number[] = [];
    for (let base = minSlice; base < pageSize; base *= 2) {
      for (let i = 0; i < perDoubling; i++) {
        const raw = base + Math.floor((base * i) / perDoubling);
        const slots = Math.floor(pageSize / raw);
        const widened = Math.floor(pageSize / slots / 8) * 8;
        if (sizes[sizes.length - 1] !== widened) sizes.push(widened);
      }
    }
    if (sizes[sizes.length - 1] !== pageSize) sizes.push(pageSize);
    this.classSizes = Int32Array.from(sizes);
    this.classSlots = Int32Array.from(sizes, (s) => Math.floor(pageSize / s));
    this.sizeClass = new Uint8Array((pageSize >> 3) + 1);
    for (let c = 0, q = 0; q <= pageSize >> 3; q++) {
      while (sizes[c]! < q * 8) c++;
      this.sizeClass[q] = c;
    }

    this.pageClass = new Int16Array(maxPages).fill(-1);
    this.pageUsed = new Int32Array(maxPages);
    this.pageNext = new Int32Array(maxPages).fill(-1);
    this.pagePrev = new Int32Array(maxPages).fill(-1);
    this.classHead = new Int32Array(sizes.length).fill(-1);
    this.freePages = new Int32Array(maxPages);
    while (this.pagesTotal < this.minPages) this.grow();
  }

  // ---------------------------------------------------------------- hot path

  /**
   * A slice of at least `size` bytes (1..pageSize; 0 gives the smallest).
   * Returns a handle >= 0, or -1 when the ceiling is reached or size is out of
   * range (counted in failedAllocs). Never throws; allocates only when it
   * grows by a page set (a SharedArrayBuffer).
   */
  alloc(size: number): number {
    if (!(size >= 0 && size <= this.pageSize)) {
      this.failedAllocs++;
      return -1;
    }
    const c = this.sizeClass[(size + 7) >> 3]!;
    let p = this.classHead[c]!;
    if (p < 0) {
      p = this.takePage(c);
      if (p < 0) {
        this.failedAllocs++;
        return -1;
      }
    }
    const s = p >> this.setShift;
    const local = p & this.setMask;
    const bm = this.bitmaps[s]!;
    const words = this.words;
    const base = local * words;
    let slot = -1;
    for (let w = 0; w < words; w++) {
      const v = bm[base + w]!;
      if (v !== -1) {
        const free = ~v;
        const bit = 31 - Math.clz32(free & -free);
        bm[base + w] = v | (1 << bit);
        slot = (w << 5) | bit;
        break;
      }
    }
    // slot >= 0: a page on the class list has a free bit by construction.
    const used = ++this.pageUsed[p]!;
    if (used === this.classSlots[c]) this.unlink(p, c);
    this.liveSlices++;
    this.bytesInUse += this.classSizes[c]!;
    const gen = this.gens[s]![(local << this.slotBits) | slot]!;
    return (((p << this.slotBits) | slot) << this.genBits) | gen;
  }

  /**
   * Returns a slice. False (counted in badFrees, nothing changed) for a
   * double free, a stale handle whose slice was freed (and maybe reused), or
   * a number that was never a handle. Never throws.
   */
  free(handle: number): boolean {
    if ((handle | 0) !== handle || handle < 0) return this.badFree();
    const gen = handle & this.genMask;
    const rest = handle >>> this.genBits;
    const slot = rest & this.slotMask;
    const p = rest >>> this.slotBits;
    if (p >= this.maxPages) return this.badFree();
    const c = this.pageClass[p]!;
    if (c < 0 || slot >= this.classSlots[c]!) return this.badFree();
    const s = p >> this.setShift;
    const local = p & this.setMask;
    const gi = (local << this.slotBits) | slot;
    const gens = this.gens[s]!;
    if (gens[gi] !== gen) return this.badFree();
    const bm = this.bitmaps[s]!;
    const wi = local * this.words + (slot >> 5);
    const bit = 1 << (slot & 31);
    const v = bm[wi]!;
    if ((v & bit) === 0) return this.badFree();
    bm[wi] = v & ~bit;
    gens[gi] = (gen + 1) & this.genMask;
    this.liveSlices--;
    this.bytesInUse -= this.classSizes[c]!;
    const used = --this.pageUsed[p]!;
    if (used === this.classSlots[c]! - 1) this.link(p, c);
    // An empty page goes back to the free list unless it is its class's only
    // page with room: one spare per class stops alloc/free of a single slice
    // from re-initialising a page every time.
    if (used === 0 && (this.classHead[c] !== p || this.pageNext[p] !== -1)) {
      this.unlink(p, c);
      this.releasePage(p);
    }
    return true;
  }

  // bytes/offset/size are cheap: they check only that the handle's page is in
  // use. isLive() checks a handle fully.

  /** The page set's bytes the slice lives in (a view of shared memory); empty for a handle outside the pool. */
  bytes(handle: number): Uint8Array {
    return this.views[(handle >>> (this.genBits + this.slotBits)) >> this.setShift] ?? EMPTY;
  }

  /** Start of the slice within bytes(handle); -1 if the handle's page is not in use. */
  offset(handle: number): number {
    const rest = handle >>> this.genBits;
    const p = rest >>> this.slotBits;
    const c = p < this.maxPages ? this.pageClass[p]! : -1;
    if (c < 0 || handle < 0) return -1;
    return (p & this.setMask) * this.pageSize + (rest & this.slotMask) * this.classSizes[c]!;
  }

  /** Usable bytes of the slice (its class size); 0 if the handle's page is not in use. */
  size(handle: number): number {
    const p = handle >>> (this.genBits + this.slotBits);
    const c = p < this.maxPages && handle >= 0 ? this.pageClass[p]! : -1;
    return c < 0 ? 0 : this.classSizes[c]!;
  }

  /** True if `handle` is a live slice of this pool (full check, as free() does). */
  isLive(handle: number): boolean {
    if ((handle | 0) !== handle || handle < 0) return false;
    const rest = handle >>> this.genBits;
    const slot = rest & this.slotMask;
    const p = rest >>> this.slotBits;
    if (p >= this.maxPages) return false;
    const c = this.pageClass[p]!;
    if (c < 0 || slot >= this.classSlots[c]!) return false;
    const s = p >> this.setShift;
    const local = p & this.setMask;
    if (this.gens[s]![(local << this.slotBits) | slot] !== (handle & this.genMask)) return false;
    return (this.bitmaps[s]![local * this.words + (slot >> 5)]! & (1 << (slot & 31))) !== 0;
  }

  /** Index of the page set holding the slice (to refer to it from another thread with setBuffer). */
  setIndex(handle: number): number {
    return (handle >>> (this.genBits + this.slotBits)) >> this.setShift;
  }

  /** The SharedArrayBuffer of a page set (cold: pass it to a worker once), or null if trimmed. */
  setBuffer(index: number): SharedArrayBuffer | null {
    return this.sets[index] ?? null;
  }

  // ---------------------------------------------------------------- cold path

  /**
   * Gives back page sets whose pages are all free (spare empty pages of a
   * class included), highest first, while more than minPages remain. Returns
   * the pages released. Handles into released sets become invalid (free()
   * returns false). Call it off the hot path, e.g. once a minute.
   */
  trim(): number {
    let released = 0;
    for (let s = this.sets.length - 1; s >= 0; s--) {
      if (this.pagesTotal - this.pagesPerSet < this.minPages) break;
      if (this.sets[s] === null) continue;
      const first = s << this.setShift;
      let empty = true;
      for (let p = first; p < first + this.pagesPerSet; p++) {
        if (this.pageClass[p]! >= 0 && this.pageUsed[p]! > 0) {
          empty = false;
          break;
        }
      }
      if (!empty) continue;
      for (let p = first; p < first + this.pagesPerSet; p++) {
        const c = this.pageClass[p]!;
        if (c >= 0) {
          this.unlink(p, c);
          this.pageClass[p] = -1;
          this.pagesInUse--;
        }
      }
      let k = 0;
      for (let i = 0; i < this.freeCount; i++) {
        const p = this.freePages[i]!;
        if (p >> this.setShift !== s) this.freePages[k++] = p;
      }
      this.freeCount = k;
      this.sets[s] = null;
      this.views[s] = null;
      this.bitmaps[s] = null;
      this.gens[s] = null;
      this.pagesTotal -= this.pagesPerSet;
      released += this.pagesPerSet;
    }
    this.trimmedPages += released;
    return released;
  }

  /** Counters (allocates the result: for metrics scrapes and tests). */
  stats(): PoolStats {
    let sets = 0;
    for (const s of this.sets) if (s !== null) sets++;
    return {
      pageSize: this.pageSize,
      pagesTotal: this.pagesTotal,
      pagesInUse: this.pagesInUse,
      pagesHighWater: this.pagesHighWater,
      pageSets: sets,
      liveSlices: this.liveSlices,
      bytesInUse: this.bytesInUse,
      failedAllocs: this.failedAllocs,
      badFrees: this.badFrees,
      grows: this.grows,
      trimmedPages: this.trimmedPages,
    };
  }

  private badFree(): false {
    this.badFrees++;
    return false;
  }

  /** A free page set up for class c and put on its list, or -1 at the ceiling. */
  private takePage(c: number): number {
    if (this.freeCount === 0 && !this.grow()) return -1;
    const p = this.freePages[--this.freeCount]!;
    const s = p >> this.setShift;
    const bm = this.bitmaps[s]!;
    const words = this.words;
    const base = (p & this.setMask) * words;
    const slots = this.classSlots[c]!;
    // Bits past the class's slice count are marked used so the scan never picks them.
    for (let w = 0; w < words; w++) {
      const lo = w << 5;
      bm[base + w] = slots >= lo + 32 ? 0 : slots <= lo ? -1 : ~((1 << (slots - lo)) - 1);
    }
    this.pageClass[p] = c;
    this.pageUsed[p] = 0;
    this.link(p, c);
    if (++this.pagesInUse > this.pagesHighWater) this.pagesHighWater = this.pagesInUse;
    return p;
  }

  private releasePage(p: number): void {
    this.pageClass[p] = -1;
    this.pagesInUse--;
    this.freePages[this.freeCount++] = p;
  }

  /** Adds one page set (a new SharedArrayBuffer) if under the ceiling. */
  private grow(): boolean {
    if (this.pagesTotal + this.pagesPerSet > this.maxPages) return false;
    let s = this.sets.indexOf(null);
    if (s < 0) s = this.sets.length;
    const sab = new SharedArrayBuffer(this.pagesPerSet * this.pageSize);
    this.sets[s] = sab;
    this.views[s] = new Uint8Array(sab);
    this.bitmaps[s] = new Int32Array(this.pagesPerSet * this.words);
    this.gens[s] = new Uint8Array(this.pagesPerSet << this.slotBits);
    // Pushed highest first so the lowest page is taken first.
    const first = s << this.setShift;
    for (let p = first + this.pagesPerSet - 1; p >= first; p--) this.freePages[this.freeCount++] = p;
    this.pagesTotal += this.pagesPerSet;
    this.grows++;
    return true;
  }

  private link(p: number, c: number): void {
    const head = this.classHead[c]!;
    this.pageNext[p] = head;
    this.pagePrev[p] = -1;
    if (head >= 0) this.pagePrev[head] = p;
    this.classHead[c] = p;
  }

  private unlink(p: number, c: number): void {
    const next = this.pageNext[p]!;
    const prev = this.pagePrev[p]!;
    if (prev >= 0) this.pageNext[prev] = next;
    else if (this.classHead[c] === p) this.classHead[c] = next;
    else return; // not on the list (full page)
    if (next >= 0) this.pagePrev[next] = prev;
    this.pageNext[p] = -1;
    this.pagePrev[p] = -1;
  }
}
