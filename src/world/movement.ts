// Server-authoritative movement check. A client sends where its predicted
// character is; the server accepts the new position only if the player could
// have got there.
//
// Budget: a token bucket of distance per player. It refills at
// maxSpeed * (1 + speedTolerance) per second of server time and holds at most
// that speed times burstMs, so packets that network jitter delayed and then
// delivered together still pass, while over any stretch of time the accepted
// path length stays within
//
//   rate * elapsed + capacity
//
// (the property test in test/world-movement.test.ts checks exactly this).
//
// Server stalls: when the server itself stops reading for a while (the
// gateway's event loop or the zone's thread starved of CPU, a long GC), an
// honest client's moves queue in the kernel and arrive together, covering
// the whole stall. The caller reports the longest recent stall with
// setStall(); for as long as it does, the capacity grows by the stall's
// length (at most stallGraceMs), so those moves pass. A cheater gains the
// same allowance only while the server is stalled, never more than
// rate * stallGraceMs, and the teleport check still bounds every jump.
// Checks, in order: dead, bounds (also NaN/Infinity), teleport (one jump
// longer than teleportDistance), speed (longer than the budget), obstacle
// (the straight segment crosses a solid rectangle).

import type { MovementParams } from './zone-def.js';
import type { EntityStore } from './entity-store.js';
import type { Terrain } from './terrain.js';
import { Flag } from './entity-store.js';
import { MoveReject } from './events.js';
import { Reg } from './scratch.js';

/** Slack for float rounding when comparing a move with the budget (units). */
const EPS = 1e-6;

export class MovementRules {
  /** Budget refill in units per ms. */
  readonly ratePerMs: number;
  /** Budget capacity in units. */
  readonly capacity: number;
  readonly teleport: number;
  /** Longest stall whose bunched moves are forgiven, ms. */
  readonly stallGraceMs: number;
  /** Capacity in force: capacity plus the allowance for a recent server stall. */
  private cap: number;

  /** Cold path. */
  constructor(p: MovementParams) {
    this.ratePerMs = (p.maxSpeed * (1 + p.speedTolerance)) / 1000;
    this.capacity = this.ratePerMs * p.burstMs;
    this.teleport = p.teleportDistance;
    this.stallGraceMs = p.stallGraceMs ?? 0;
    this.cap = this.capacity;
  }

  /**
   * The longest server stall (ms) that ended recently, or 0. Moves judged
   * from now on may spend up to rate * min(stallMs, stallGraceMs) more than
   * the usual capacity. Cheap: call it before each batch of moves.
   */
  setStall(stallMs: number): void {
    const ms = stallMs > this.stallGraceMs ? this.stallGraceMs : stallMs > 0 ? stallMs : 0;
    this.cap = this.capacity + ms * this.ratePerMs;
  }

  /** A fresh player (join, respawn, arrival) starts with a full budget at reg[now]. */
  resetBudget(store: EntityStore, slot: number, reg: Float64Array): void {
    store.budget[slot] = this.capacity;
    store.budgetMs[slot] = reg[Reg.now]!;
  }

  /**
   * Judges a move of player `slot` to (reg[x], reg[y]) at reg[now]: 0 to
   * accept (the budget is charged, the position is NOT written: the caller
   * does that) or a MoveReject reason.
   */
  judge(store: EntityStore, terrain: Terrain, slot: number, reg: Float64Array): number {
    const nx = reg[Reg.x]!;
    const ny = reg[Reg.y]!;
    const nowMs = reg[Reg.now]!;
    if ((store.flags[slot]! & Flag.dead) !== 0) return MoveReject.dead;
    // terrain.inBounds(), inlined (no double arguments: scratch.ts). False for NaN.
    if (!(nx >= 0 && nx <= terrain.width && ny >= 0 && ny <= terrain.height)) return MoveReject.bounds;
    const x0 = store.x[slot]!;
    const y0 = store.y[slot]!;
    const dx = nx - x0;
    const dy = ny - y0;
    const d = Math.sqrt(dx * dx + dy * dy);
    if (d > this.teleport) return MoveReject.teleport;
    // Refill for the time since the last refill; a clock that steps back refills nothing.
    const elapsed = nowMs - store.budgetMs[slot]!;
    let budget = store.budget[slot]! + (elapsed > 0 ? elapsed * this.ratePerMs : 0);
    if (budget > this.cap) budget = this.cap;
    store.budget[slot] = budget;
    if (elapsed > 0) store.budgetMs[slot] = nowMs;
    if (d > budget + EPS) return MoveReject.speed;
    if (d > 0) {
      const seg = terrain.seg;
      seg[0] = x0;
      seg[1] = y0;
      seg[2] = nx;
      seg[3] = ny;
      if (terrain.segBlocked()) return MoveReject.obstacle;
    }
    budget -= d;
    store.budget[slot] = budget > 0 ? budget : 0;
    return 0;
  }
}
