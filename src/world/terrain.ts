// Static geometry of a zone compiled into typed arrays: bounds, solid
// rectangles and portal rectangles. Obstacles are bucketed into coarse cells
// (CSR layout) so a move's segment tests only the few rectangles near it.
//
//   cellStart[c] .. cellStart[c + 1]  ->  indices into cellItems  ->  obstacle index
//
// Obstacle interiors are open: a segment that only touches an edge or runs
// along it is not blocked, so walls can be walked along.

import type { ZoneDef } from './zone-def.js';

const BUCKET = 64;

export class Terrain {
  readonly width: number;
  readonly height: number;
  private readonly minX: Float64Array;
  private readonly minY: Float64Array;
  private readonly maxX: Float64Array;
  private readonly maxY: Float64Array;
  private readonly cols: number;
  private readonly rows: number;
  private readonly cellStart: Int32Array;
  private readonly cellItems: Int32Array;
  private readonly pMinX: Float64Array;
  private readonly pMinY: Float64Array;
  private readonly pMaxX: Float64Array;
  private readonly pMaxY: Float64Array;
  readonly portalCount: number;

  /** Cold path: compiles the definition. */
  constructor(def: ZoneDef) {
    this.width = def.width;
    this.height = def.height;
    const n = def.obstacles.length;
    this.minX = new Float64Array(n);
    this.minY = new Float64Array(n);
    this.maxX = new Float64Array(n);
    this.maxY = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const r = def.obstacles[i]!;
      this.minX[i] = r.x;
      this.minY[i] = r.y;
      this.maxX[i] = r.x + r.w;
      this.maxY[i] = r.y + r.h;
    }
    this.cols = Math.max(1, Math.ceil(def.width / BUCKET));
    this.rows = Math.max(1, Math.ceil(def.height / BUCKET));
    const lists: number[][] = Array.from({ length: this.cols * this.rows }, () => []);
    for (let i = 0; i < n; i++) {
      const c0 = this.col(this.minX[i]!);
      const c1 = this.col(this.maxX[i]!);
      const r0 = this.row(this.minY[i]!);
      const r1 = this.row(this.maxY[i]!);
      for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) lists[r * this.cols + c]!.push(i);
    }
    this.cellStart = new Int32Array(lists.length + 1);
    let total = 0;
    for (let c = 0; c < lists.length; c++) {
      this.cellStart[c] = total;
      total += lists[c]!.length;
    }
    this.cellStart[lists.length] = total;
    this.cellItems = new Int32Array(total);
    for (let c = 0, k = 0; c < lists.length; c++) for (const i of lists[c]!) this.cellItems[k++] = i;

    const p = def.portals.length;
    this.portalCount = p;
    this.pMinX = new Float64Array(p);
    this.pMinY = new Float64Array(p);
    this.pMaxX = new Float64Array(p);
    this.pMaxY = new Float64Array(p);
    for (let i = 0; i < p; i++) {
      const r = def.portals[i]!.rect;
      this.pMinX[i] = r.x;
      this.pMinY[i] = r.y;
      this.pMaxX[i] = r.x + r.w;
      this.pMaxY[i] = r.y + r.h;
    }
  }

  // Called only from the constructor; the hot tests below inline the same arithmetic.
  private col(x: number): number {
    const c = Math.floor(x / BUCKET);
    return c < 0 ? 0 : c >= this.cols ? this.cols - 1 : c;
  }

  private row(y: number): number {
    const r = Math.floor(y / BUCKET);
    return r < 0 ? 0 : r >= this.rows ? this.rows - 1 : r;
  }

  /** Inside the zone (edges included). False for NaN and infinities. */
  inBounds(x: number, y: number): boolean {
    return x >= 0 && x <= this.width && y >= 0 && y <= this.height;
  }

  /**
   * Operands of the allocation-free tests below: a point in seg[0..1], a
   * segment in seg[0..3] (x0, y0, x1, y1). V8 boxes a fractional double passed
   * to a call it does not inline; hot callers write here instead.
   */
  readonly seg = new Float64Array(4);

  /** Whether the point is inside an obstacle's open interior. */
  pointBlocked(x: number, y: number): boolean {
    this.seg[0] = x;
    this.seg[1] = y;
    return this.segPointBlocked();
  }

  /** pointBlocked() of (seg[0], seg[1]). */
  segPointBlocked(): boolean {
    const x = this.seg[0]!;
    const y = this.seg[1]!;
    let cx = Math.floor(x / BUCKET);
    let cy = Math.floor(y / BUCKET);
    cx = cx < 0 ? 0 : cx >= this.cols ? this.cols - 1 : cx;
    cy = cy < 0 ? 0 : cy >= this.rows ? this.rows - 1 : cy;
    const c = cy * this.cols + cx;
    for (let k = this.cellStart[c]!, end = this.cellStart[c + 1]!; k < end; k++) {
      const i = this.cellItems[k]!;
      if (x > this.minX[i]! && x < this.maxX[i]! && y > this.minY[i]! && y < this.maxY[i]!) return true;
    }
    return false;
  }

  /** Whether the segment (x0,y0)-(x1,y1) passes through any obstacle's open interior. */
  segmentBlocked(x0: number, y0: number, x1: number, y1: number): boolean {
    this.seg[0] = x0;
    this.seg[1] = y0;
    this.seg[2] = x1;
    this.seg[3] = y1;
    return this.segBlocked();
  }

  /** segmentBlocked() of seg[0..3]. */
  segBlocked(): boolean {
    const g = this.seg;
    const x0 = g[0]!;
    const y0 = g[1]!;
    const x1 = g[2]!;
    const y1 = g[3]!;
    let c0 = Math.floor((x0 < x1 ? x0 : x1) / BUCKET);
    let c1 = Math.floor((x0 < x1 ? x1 : x0) / BUCKET);
    let r0 = Math.floor((y0 < y1 ? y0 : y1) / BUCKET);
    let r1 = Math.floor((y0 < y1 ? y1 : y0) / BUCKET);
    const lastC = this.cols - 1;
    const lastR = this.rows - 1;
    c0 = c0 < 0 ? 0 : c0 > lastC ? lastC : c0;
    c1 = c1 < 0 ? 0 : c1 > lastC ? lastC : c1;
    r0 = r0 < 0 ? 0 : r0 > lastR ? lastR : r0;
    r1 = r1 < 0 ? 0 : r1 > lastR ? lastR : r1;
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cell = r * this.cols + c;
        for (let k = this.cellStart[cell]!, end = this.cellStart[cell + 1]!; k < end; k++) {
          if (this.segHits(this.cellItems[k]!)) return true;
        }
      }
    }
    return false;
  }

  /** segmentHitsOpenRect() of seg[0..3] against obstacle i. */
  private segHits(i: number): boolean {
    const g = this.seg;
    const x0 = g[0]!;
    const y0 = g[1]!;
    let enter = 0;
    let exit = 1;
    const dx = g[2]! - x0;
    if (dx === 0) {
      if (!(x0 > this.minX[i]! && x0 < this.maxX[i]!)) return false;
    } else {
      let a = (this.minX[i]! - x0) / dx;
      let b = (this.maxX[i]! - x0) / dx;
      if (a > b) {
        const t = a;
        a = b;
        b = t;
      }
      if (a > enter) enter = a;
      if (b < exit) exit = b;
    }
    const dy = g[3]! - y0;
    if (dy === 0) {
      if (!(y0 > this.minY[i]! && y0 < this.maxY[i]!)) return false;
    } else {
      let a = (this.minY[i]! - y0) / dy;
      let b = (this.maxY[i]! - y0) / dy;
      if (a > b) {
        const t = a;
        a = b;
        b = t;
      }
      if (a > enter) enter = a;
      if (b < exit) exit = b;
    }
    return enter < exit;
  }

  /** Index of the first portal whose closed rectangle contains the point, or -1. */
  portalAt(x: number, y: number): number {
    this.seg[0] = x;
    this.seg[1] = y;
    return this.segPortal();
  }

  /** portalAt() of (seg[0], seg[1]). */
  segPortal(): number {
    const x = this.seg[0]!;
    const y = this.seg[1]!;
    for (let i = 0; i < this.portalCount; i++) {
      if (x >= this.pMinX[i]! && x <= this.pMaxX[i]! && y >= this.pMinY[i]! && y <= this.pMaxY[i]!) return i;
    }
    return -1;
  }
}

/**
 * Reference form of Terrain's slab test, with plain arguments (tests check
 * Terrain against it). Does the closed segment meet the open rectangle
 * (minX, maxX) x (minY, maxY)? The segment's parameter interval inside each
 * open slab is open, so the intersection is non-empty iff enter < exit.
 */
export function segmentHitsOpenRect(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  minX: number,
  minY: number,
  maxX: number,
  maxY: number,
): boolean {
  let enter = 0;
  let exit = 1;
  const dx = x1 - x0;
  if (dx === 0) {
    if (!(x0 > minX && x0 < maxX)) return false;
  } else {
    let a = (minX - x0) / dx;
    let b = (maxX - x0) / dx;
    if (a > b) {
      const t = a;
      a = b;
      b = t;
    }
    if (a > enter) enter = a;
    if (b < exit) exit = b;
  }
  const dy = y1 - y0;
  if (dy === 0) {
    if (!(y0 > minY && y0 < maxY)) return false;
  } else {
    let a = (minY - y0) / dy;
    let b = (maxY - y0) / dy;
    if (a > b) {
      const t = a;
      a = b;
      b = t;
    }
    if (a > enter) enter = a;
    if (b < exit) exit = b;
  }
  return enter < exit;
}
