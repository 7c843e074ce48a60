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

  /** Whether the point is inside an obstacle's open interior. */
  pointBlocked(x: number, y: number): boolean {
    const c = this.row(y) * this.cols + this.col(x);
    for (let k = this.cellStart[c]!, end = this.cellStart[c + 1]!; k < end; k++) {
      const i = this.cellItems[k]!;
      if (x > this.minX[i]! && x < this.maxX[i]! && y > this.minY[i]! && y < this.maxY[i]!) return true;
    }
    return false;
  }

  /** Whether the segment (x0,y0)-(x1,y1) passes through any obstacle's open interior. */
  segmentBlocked(x0: number, y0: number, x1: number, y1: number): boolean {
    const c0 = this.col(x0 < x1 ? x0 : x1);
    const c1 = this.col(x0 < x1 ? x1 : x0);
    const r0 = this.row(y0 < y1 ? y0 : y1);
    const r1 = this.row(y0 < y1 ? y1 : y0);
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cell = r * this.cols + c;
        for (let k = this.cellStart[cell]!, end = this.cellStart[cell + 1]!; k < end; k++) {
          const i = this.cellItems[k]!;
          if (segmentHitsOpenRect(x0, y0, x1, y1, this.minX[i]!, this.minY[i]!, this.maxX[i]!, this.maxY[i]!)) return true;
        }
      }
    }
    return false;
  }

  /** Index of the first portal whose closed rectangle contains the point, or -1. */
  portalAt(x: number, y: number): number {
    for (let i = 0; i < this.portalCount; i++) {
      if (x >= this.pMinX[i]! && x <= this.pMaxX[i]! && y >= this.pMinY[i]! && y <= this.pMaxY[i]!) return i;
    }
    return -1;
  }
}

/**
 * Slab test: does the closed segment meet the open rectangle
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
