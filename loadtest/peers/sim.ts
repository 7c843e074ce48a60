// The game loop the Colyseus peer runs, kept as close to ours as a small
// file allows: one 1024 x 1024 zone ticking at 20 Hz, 200 wandering NPCs,
// server-checked movement (8 units/s + 10 %, 500 ms burst, 24-unit teleport
// limit), a uniform grid for area of interest (radius 64, cell 32, at most
// 64 entities per player, nearest first), and per player per tick one message
// with the 12-byte states of the visible entities that changed this tick (our
// Delta updates carry the same 12 bytes per entity). Say chat reaches players
// within 32 units; attacks are checked for range (3) and cooldown (1 s).
//
// Differences from ours, stated plainly: no enter/leave bookkeeping (an
// entity coming into range arrives as an update), no obstacles, no combat
// resolution beyond the checks, no persistence, no sessions to resume.
//
// Allocation-free per tick (typed arrays, scratch buffers); Colyseus' own
// send path copies each message.

export const ZONE = 1024;
export const TICK_HZ = 20;
const CELL = 32;
const GRID = ZONE / CELL;
const RADIUS = 64;
const CAP = 64;
const SAY_RADIUS = 32;
const MAX = 32768;
const NPCS = 200;
const MAX_SPEED = 8 * 1.1;
const BURST = MAX_SPEED * 0.5;
const TELEPORT = 24;

export class PeerWorld {
  readonly x = new Float32Array(MAX);
  readonly y = new Float32Array(MAX);
  readonly hp = new Uint16Array(MAX);
  readonly dirty = new Uint8Array(MAX);
  readonly isPlayer = new Uint8Array(MAX);
  readonly alive = new Uint8Array(MAX);
  private readonly budget = new Float64Array(MAX);
  private readonly budgetAt = new Float64Array(MAX);
  private readonly lastAttack = new Float64Array(MAX);
  private readonly homeX = new Float32Array(MAX);
  private readonly homeY = new Float32Array(MAX);
  private readonly tx = new Float32Array(MAX);
  private readonly ty = new Float32Array(MAX);
  private readonly free: number[] = [];
  private top = 0;
  /** Grid: cellStart[c]..cellStart[c+1] index into cellItems (counting sort, rebuilt each tick). */
  private readonly cellStart = new Int32Array(GRID * GRID + 1);
  private readonly cellItems = new Int32Array(MAX);
  private readonly cellOf = new Int32Array(MAX);
  private readonly keys = new Float64Array(MAX);
  /** One message: [type u8=1][pad 3][tick u32][count u16][pad 2] then 12 bytes per entity. */
  readonly out = new Uint8Array(12 + CAP * 12);
  private readonly outView = new DataView(this.out.buffer);
  tick = 0;
  private seed = 12345;
  rejectedMoves = 0;

  constructor() {
    for (let i = 0; i < NPCS; i++) {
      const s = this.alloc();
      this.x[s] = this.homeX[s] = 32 + this.rnd() * (ZONE - 64);
      this.y[s] = this.homeY[s] = 32 + this.rnd() * (ZONE - 64);
      this.tx[s] = this.x[s]!;
      this.ty[s] = this.y[s]!;
      this.hp[s] = 60;
    }
  }

  private rnd(): number {
    this.seed = (this.seed * 1103515245 + 12345) & 0x7fffffff;
    return this.seed / 0x7fffffff;
  }

  private alloc(): number {
    const s = this.free.length > 0 ? this.free.pop()! : this.top++;
    this.alive[s] = 1;
    this.dirty[s] = 1;
    return s;
  }

  addPlayer(nowMs: number): number {
    const s = this.alloc();
    this.isPlayer[s] = 1;
    const spawn = Math.floor(this.rnd() * 5);
    const q = ZONE / 4;
    this.x[s] = spawn === 0 ? ZONE / 2 : spawn & 1 ? q : 3 * q;
    this.y[s] = spawn === 0 ? ZONE / 2 : spawn < 3 ? q : 3 * q;
    this.hp[s] = 100;
    this.budget[s] = BURST;
    this.budgetAt[s] = nowMs;
    return s;
  }

  removePlayer(s: number): void {
    this.alive[s] = 0;
    this.isPlayer[s] = 0;
    this.free.push(s);
  }

  /** The movement check of ours: bounds, teleport, token-bucket speed. Returns whether accepted. */
  move(s: number, nx: number, ny: number, nowMs: number): boolean {
    if (!(nx >= 0 && nx <= ZONE && ny >= 0 && ny <= ZONE)) return this.reject();
    const d = Math.hypot(nx - this.x[s]!, ny - this.y[s]!);
    if (d > TELEPORT) return this.reject();
    const el = nowMs - this.budgetAt[s]!;
    let b = this.budget[s]! + (el > 0 ? (el * MAX_SPEED) / 1000 : 0);
    if (b > BURST) b = BURST;
    this.budgetAt[s] = nowMs;
    if (d > b + 1e-6) {
      this.budget[s] = b;
      return this.reject();
    }
    this.budget[s] = b - d;
    this.x[s] = nx;
    this.y[s] = ny;
    this.dirty[s] = 1;
    return true;
  }

  private reject(): boolean {
    this.rejectedMoves++;
    return false;
  }

  /** Range and cooldown check of an attack; applies 10 damage to a live target. */
  attack(s: number, target: number, nowMs: number): boolean {
    if (target < 0 || target >= this.top || this.alive[target] === 0 || target === s) return false;
    if (nowMs - this.lastAttack[s]! < 1000) return false;
    if (Math.hypot(this.x[target]! - this.x[s]!, this.y[target]! - this.y[s]!) > 3) return false;
    this.lastAttack[s] = nowMs;
    this.hp[target] = this.hp[target]! > 10 ? this.hp[target]! - 10 : 60;
    this.dirty[target] = 1;
    return true;
  }

  /** One tick: NPCs wander, then the grid is rebuilt. Call visible() per player afterwards, then endTick(). */
  step(): void {
    this.tick++;
    const dt = 1 / TICK_HZ;
    for (let s = 0; s < this.top; s++) {
      if (this.alive[s] === 0 || this.isPlayer[s] === 1) continue;
      const dx = this.tx[s]! - this.x[s]!;
      const dy = this.ty[s]! - this.y[s]!;
      const d = Math.hypot(dx, dy);
      if (d < 0.5) {
        if (this.rnd() < 0.02) {
          this.tx[s] = this.homeX[s]! + (this.rnd() - 0.5) * 32;
          this.ty[s] = this.homeY[s]! + (this.rnd() - 0.5) * 32;
        }
        continue;
      }
      const step = Math.min(d, 3.5 * dt);
      this.x[s] = this.x[s]! + (dx / d) * step;
      this.y[s] = this.y[s]! + (dy / d) * step;
      this.dirty[s] = 1;
    }
    // Counting sort of live entities into cells.
    const start = this.cellStart;
    start.fill(0);
    for (let s = 0; s < this.top; s++) {
      if (this.alive[s] === 0) continue;
      const c = cellIndex(this.x[s]!, this.y[s]!);
      this.cellOf[s] = c;
      start[c + 1]!++;
    }
    for (let c = 0; c < GRID * GRID; c++) start[c + 1]! += start[c]!;
    const fill = this.keys; // reused as a write cursor per cell
    for (let c = 0; c < GRID * GRID; c++) fill[c] = start[c]!;
    for (let s = 0; s < this.top; s++) {
      if (this.alive[s] === 0) continue;
      const c = this.cellOf[s]!;
      this.cellItems[fill[c]!++] = s;
    }
  }

  /**
   * Writes player s's message for this tick into `out`: the changed entities
   * within RADIUS, nearest CAP of all in range. Returns its length, or 0 when
   * nothing in view changed.
   */
  visible(s: number): number {
    const px = this.x[s]!;
    const py = this.y[s]!;
    const r2 = RADIUS * RADIUS;
    const c0x = Math.max(0, Math.floor((px - RADIUS) / CELL));
    const c1x = Math.min(GRID - 1, Math.floor((px + RADIUS) / CELL));
    const c0y = Math.max(0, Math.floor((py - RADIUS) / CELL));
    const c1y = Math.min(GRID - 1, Math.floor((py + RADIUS) / CELL));
    const keys = this.keys;
    let n = 0;
    for (let cy = c0y; cy <= c1y; cy++) {
      for (let cx = c0x; cx <= c1x; cx++) {
        const c = cy * GRID + cx;
        for (let i = this.cellStart[c]!; i < this.cellStart[c + 1]!; i++) {
          const e = this.cellItems[i]!;
          const dx = this.x[e]! - px;
          const dy = this.y[e]! - py;
          const d2 = dx * dx + dy * dy;
          if (d2 <= r2) keys[n++] = Math.floor(d2) * 65536 + e;
        }
      }
    }
    if (n > CAP) keys.subarray(0, n).sort();
    const m = Math.min(n, CAP);
    const v = this.outView;
    let count = 0;
    for (let i = 0; i < m; i++) {
      const e = keys[i]! % 65536;
      if (this.dirty[e] === 0) continue;
      const o = 12 + count * 12;
      v.setUint32(o, e, true);
      v.setUint16(o + 4, Math.round(this.x[e]! * 16) & 0xffff, true);
      v.setUint16(o + 6, Math.round(this.y[e]! * 16) & 0xffff, true);
      v.setUint16(o + 8, this.hp[e]!, true);
      this.out[o + 10] = 0;
      this.out[o + 11] = 0;
      count++;
    }
    if (count === 0) return 0;
    this.out[0] = 1;
    v.setUint32(4, this.tick, true);
    v.setUint16(8, count, true);
    return 12 + count * 12;
  }

  /** Players within say range of s, written into `into`; returns the count. */
  near(s: number, into: Int32Array): number {
    const px = this.x[s]!;
    const py = this.y[s]!;
    let n = 0;
    const c0x = Math.max(0, Math.floor((px - SAY_RADIUS) / CELL));
    const c1x = Math.min(GRID - 1, Math.floor((px + SAY_RADIUS) / CELL));
    const c0y = Math.max(0, Math.floor((py - SAY_RADIUS) / CELL));
    const c1y = Math.min(GRID - 1, Math.floor((py + SAY_RADIUS) / CELL));
    for (let cy = c0y; cy <= c1y; cy++) {
      for (let cx = c0x; cx <= c1x; cx++) {
        const c = cy * GRID + cx;
        for (let i = this.cellStart[c]!; i < this.cellStart[c + 1]! && n < into.length; i++) {
          const e = this.cellItems[i]!;
          if (this.isPlayer[e] === 1 && Math.hypot(this.x[e]! - px, this.y[e]! - py) <= SAY_RADIUS) into[n++] = e;
        }
      }
    }
    return n;
  }

  endTick(): void {
    this.dirty.fill(0, 0, this.top);
  }
}

function cellIndex(x: number, y: number): number {
  const cx = Math.min(GRID - 1, Math.max(0, Math.floor(x / CELL)));
  const cy = Math.min(GRID - 1, Math.max(0, Math.floor(y / CELL)));
  return cy * GRID + cx;
}
