// Uniform spatial grid for area-of-interest and radius queries.
//
// Each cell holds an intrusive doubly linked list of entity slots:
//
//   head[cell] -> slot a <-> slot b <-> slot c -> -1
//                 next[a] = b, prev[b] = a, cellOf[a] = cell
//
// Insert, remove and move are O(1) with no allocation; a radius query walks
// the cells overlapping the query square and writes hits into caller-owned
// scratch arrays. Positions are read from the entity store's x/y arrays, so
// the grid never holds a stale copy: call move() after changing x/y.
//
// Hot callers pass the query centre and radius in `q` and call queryQ() /
// queryPackedQ(): no double arguments, so nothing is boxed when V8 does not
// inline the call (see scratch.ts).

export class SpatialGrid {
  readonly cols: number;
  readonly rows: number;
  readonly cellSize: number;
  private readonly inv: number;
  private readonly head: Int32Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Cell of each slot, -1 when not in the grid. */
  readonly cellOf: Int32Array;

  // Packed copy (see pack()): entities sorted by cell, so a query scans one
  // contiguous run per grid row instead of chasing list links.
  private readonly packStart: Int32Array;
  private readonly packSlot: Int32Array;
  private readonly packX: Float32Array;
  private readonly packY: Float32Array;
  private packed = false;

  /** Operands of queryQ() and queryPackedQ(): centre x, centre y, radius. */
  readonly q = new Float64Array(3);
  /** Scratch for cellRange(): [c0, c1, r0, r1]. */
  private readonly range = new Int32Array(4);

  constructor(
    width: number,
    height: number,
    cellSize: number,
    capacity: number,
    private readonly xs: Float32Array,
    private readonly ys: Float32Array,
  ) {
    this.cellSize = cellSize;
    this.inv = 1 / cellSize;
    this.cols = Math.max(1, Math.ceil(width / cellSize));
    this.rows = Math.max(1, Math.ceil(height / cellSize));
    this.head = new Int32Array(this.cols * this.rows).fill(-1);
    this.next = new Int32Array(capacity).fill(-1);
    this.prev = new Int32Array(capacity).fill(-1);
    this.cellOf = new Int32Array(capacity).fill(-1);
    this.packStart = new Int32Array(this.cols * this.rows + 1);
    this.packSlot = new Int32Array(capacity);
    this.packX = new Float32Array(capacity);
    this.packY = new Float32Array(capacity);
  }

  /**
   * Freezes the current contents into cell order for queryPacked(): a
   * counting sort by cell, O(entities + cells). Any insert/remove/move
   * afterwards makes the packed copy stale until the next pack().
   */
  pack(): void {
    const start = this.packStart;
    const ncell = this.cols * this.rows;
    let k = 0;
    for (let c = 0; c < ncell; c++) {
      start[c] = k;
      for (let s = this.head[c]!; s !== -1; s = this.next[s]!) {
        this.packSlot[k] = s;
        this.packX[k] = this.xs[s]!;
        this.packY[k] = this.ys[s]!;
        k++;
      }
    }
    start[ncell] = k;
    this.packed = true;
  }

  /** Whether pack() ran since the last change. */
  isPacked(): boolean {
    return this.packed;
  }

  /** As query(), over the packed copy (call pack() first; results reflect positions at pack time). */
  queryPacked(x: number, y: number, r: number, out: Int32Array, outD2: Float64Array): number {
    this.q[0] = x;
    this.q[1] = y;
    this.q[2] = r;
    return this.queryPackedQ(out, outD2);
  }

  /** queryPacked() around (q[0], q[1]) with radius q[2]. */
  queryPackedQ(out: Int32Array, outD2: Float64Array): number {
    const x = this.q[0]!;
    const y = this.q[1]!;
    const r = this.q[2]!;
    const r2 = r * r;
    const cr = this.cellRange(x, y, r);
    const c0 = cr[0]!;
    const c1 = cr[1]!;
    const r0 = cr[2]!;
    const r1 = cr[3]!;
    const px = this.packX;
    const py = this.packY;
    const ps = this.packSlot;
    const start = this.packStart;
    let n = 0;
    for (let cy = r0; cy <= r1; cy++) {
      const rowBase = cy * this.cols;
      const end = start[rowBase + c1 + 1]!;
      for (let k = start[rowBase + c0]!; k < end; k++) {
        const dx = px[k]! - x;
        const dy = py[k]! - y;
        const d2 = dx * dx + dy * dy;
        if (d2 <= r2) {
          out[n] = ps[k]!;
          outD2[n] = d2;
          n++;
        }
      }
    }
    return n;
  }

  /** The cell a slot's current store position falls in (clamped into the grid). */
  private cellOfSlot(slot: number): number {
    let cx = Math.floor(this.xs[slot]! * this.inv);
    let cy = Math.floor(this.ys[slot]! * this.inv);
    if (cx < 0) cx = 0;
    else if (cx >= this.cols) cx = this.cols - 1;
    if (cy < 0) cy = 0;
    else if (cy >= this.rows) cy = this.rows - 1;
    return cy * this.cols + cx;
  }

  /** Adds a slot at its current store position. The slot must not be in the grid. */
  insert(slot: number): void {
    this.link(slot, this.cellOfSlot(slot));
  }

  remove(slot: number): void {
    if (this.cellOf[slot]! < 0) return;
    this.unlink(slot);
  }

  /** Re-files a slot after its store position changed; O(1), a no-op within the same cell. */
  move(slot: number): void {
    this.packed = false;
    const c = this.cellOfSlot(slot);
    const old = this.cellOf[slot]!;
    if (c === old) return;
    if (old >= 0) this.unlink(slot);
    this.link(slot, c);
  }

  contains(slot: number): boolean {
    return this.cellOf[slot]! >= 0;
  }

  /**
   * Every slot within distance r of (x, y) (inclusive): writes the slots to
   * out and their squared distances to outD2, returns how many. The arrays
   * must hold every entity that could match (size them to the store
   * capacity). Order follows the cells, not distance.
   */
  query(x: number, y: number, r: number, out: Int32Array, outD2: Float64Array): number {
    this.q[0] = x;
    this.q[1] = y;
    this.q[2] = r;
    return this.queryQ(out, outD2);
  }

  /**
   * The cells a query of radius r around (x, y) touches, as [c0, c1, r0, r1]
   * (inclusive) in a reused array: both ends clamped, since entities outside
   * the zone are filed in edge cells.
   */
  private cellRange(x: number, y: number, r: number): Int32Array {
    const inv = this.inv;
    const cols = this.cols;
    const rows = this.rows;
    const c0 = Math.floor((x - r) * inv);
    const c1 = Math.floor((x + r) * inv);
    const r0 = Math.floor((y - r) * inv);
    const r1 = Math.floor((y + r) * inv);
    const out = this.range;
    out[0] = c0 < 0 ? 0 : c0 >= cols ? cols - 1 : c0;
    out[1] = c1 < 0 ? 0 : c1 >= cols ? cols - 1 : c1;
    out[2] = r0 < 0 ? 0 : r0 >= rows ? rows - 1 : r0;
    out[3] = r1 < 0 ? 0 : r1 >= rows ? rows - 1 : r1;
    return out;
  }

  /** query() around (q[0], q[1]) with radius q[2]. */
  queryQ(out: Int32Array, outD2: Float64Array): number {
    const x = this.q[0]!;
    const y = this.q[1]!;
    const r = this.q[2]!;
    const r2 = r * r;
    const cr = this.cellRange(x, y, r);
    const c0 = cr[0]!;
    const c1 = cr[1]!;
    const r0 = cr[2]!;
    const r1 = cr[3]!;
    const xs = this.xs;
    const ys = this.ys;
    const head = this.head;
    const next = this.next;
    let n = 0;
    for (let cy = r0; cy <= r1; cy++) {
      const rowBase = cy * this.cols;
      for (let cx = c0; cx <= c1; cx++) {
        for (let s = head[rowBase + cx]!; s !== -1; s = next[s]!) {
          const dx = xs[s]! - x;
          const dy = ys[s]! - y;
          const d2 = dx * dx + dy * dy;
          if (d2 <= r2) {
            out[n] = s;
            outD2[n] = d2;
            n++;
          }
        }
      }
    }
    return n;
  }

  private link(slot: number, c: number): void {
    this.packed = false;
    const h = this.head[c]!;
    this.next[slot] = h;
    this.prev[slot] = -1;
    if (h !== -1) this.prev[h] = slot;
    this.head[c] = slot;
    this.cellOf[slot] = c;
  }

  private unlink(slot: number): void {
    this.packed = false;
    const c = this.cellOf[slot]!;
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p !== -1) this.next[p] = n;
    else this.head[c] = n;
    if (n !== -1) this.prev[n] = p;
    this.next[slot] = -1;
    this.prev[slot] = -1;
    this.cellOf[slot] = -1;
  }
}
