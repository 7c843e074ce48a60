// NPC behaviour: a small state machine per NPC, stepped every tick, so an
// empty world still moves and a populated one fights back.
//
//   idle --pause over--> wander --arrived/blocked--> idle
//   idle/wander --player within aggroRadius (scan every SCAN_MS) or hit--> chase
//   chase --target gone/dead/protected, pulled beyond leashRadius, path blocked--> leash
//   leash --home--> idle (full HP)
//   any --HP 0--> dead --respawnDelayMs--> idle at home (full HP)
//
// Chase moves at the group's speed up to 80 % of attack range and attacks on
// cooldown; wander at half speed within wanderRadius of home; leash at 1.5x
// speed, untouchable (attacks return `evading`), straight home (a blocked path
// home snaps to it rather than sticking). All randomness comes from the
// world's PRNG.

import type { World } from './world.js';
import { Flag, Kind } from './entity-store.js';

export const NpcState = { idle: 0, wander: 1, chase: 2, leash: 3, dead: 4 } as const;

/** Aggro scans per NPC are this far apart (staggered), so 1,000 NPCs cost ~50 grid queries a tick at 20 Hz. */
export const SCAN_MS = 250;
const STOP_FRACTION = 0.8;

const MOVED = 0;
const ARRIVED = 1;
const BLOCKED = 2;

export class NpcAi {
  private readonly aggro2: Float64Array;
  private readonly leash2: Float64Array;
  private readonly wander: Float64Array;
  private readonly speed: Float64Array;
  private readonly respawnMs: Float64Array;

  /** Cold path: compiles the NPC groups. */
  constructor(private readonly w: World) {
    const g = w.def.npcs;
    this.aggro2 = Float64Array.from(g, (x) => x.aggroRadius * x.aggroRadius);
    this.leash2 = Float64Array.from(g, (x) => x.leashRadius * x.leashRadius);
    this.wander = Float64Array.from(g, (x) => x.wanderRadius);
    this.speed = Float64Array.from(g, (x) => x.speed);
    this.respawnMs = Float64Array.from(g, (x) => x.respawnDelayMs);
  }

  /** Creates every NPC of the definition at a seeded spawn point. Cold path. */
  populate(nowMs: number): void {
    const w = this.w;
    const { store, rng, terrain } = w;
    w.def.npcs.forEach((g, gi) => {
      const area = g.area ?? { x: 0, y: 0, w: w.def.width, h: w.def.height };
      for (let k = 0; k < g.count; k++) {
        const s = store.alloc(Kind.npc);
        if (s < 0) return;
        let hx = 0;
        let hy = 0;
        for (let tries = 0; tries < 32; tries++) {
          hx = Math.fround(rng.range(area.x, area.x + area.w));
          hy = Math.fround(rng.range(area.y, area.y + area.h));
          if (!terrain.pointBlocked(hx, hy)) break;
        }
        store.names[s] = g.name;
        store.group[s] = gi;
        store.level[s] = rng.int(g.levelMin, g.levelMax);
        store.maxHp[s] = w.combat.maxHpFor(Kind.npc, store.level[s]!);
        store.hp[s] = store.maxHp[s]!;
        store.homeX[s] = hx;
        store.homeY[s] = hy;
        store.x[s] = hx;
        store.y[s] = hy;
        store.facing[s] = rng.int(0, 255);
        store.npcState[s] = NpcState.idle;
        store.timerMs[s] = nowMs + rng.range(0, 4000);
        store.thinkMs[s] = nowMs + rng.range(0, SCAN_MS);
        w.grid.insert(s);
        w.publishOne(s);
      }
    });
  }

  /** One tick of NPC `s`. dtMs is the tick's (clamped) duration. */
  step(s: number, nowMs: number, dtMs: number): void {
    const store = this.w.store;
    const st = store.npcState[s]!;
    if (st === NpcState.dead) {
      if (nowMs >= store.timerMs[s]!) this.respawn(s, nowMs);
      return;
    }
    const movedBefore = store.flags[s]! & Flag.moving;
    let moved = false;
    if (st === NpcState.leash) moved = this.stepLeash(s, nowMs, dtMs);
    else if (st === NpcState.chase) moved = this.stepChase(s, nowMs, dtMs);
    else {
      if (nowMs >= store.thinkMs[s]!) {
        store.thinkMs[s] = nowMs + SCAN_MS;
        const t = this.findTarget(s);
        if (t >= 0) {
          this.startChase(s, t);
          moved = this.stepChase(s, nowMs, dtMs);
        }
      }
      if (store.npcState[s] === NpcState.idle) {
        if (nowMs >= store.timerMs[s]!) this.pickWanderGoal(s, nowMs);
      } else if (store.npcState[s] === NpcState.wander) {
        const r = this.stepToward(s, store.goalX[s]!, store.goalY[s]!, this.speed[store.group[s]!]! * 0.5 * dtMs * 0.001, 0, dtMs);
        moved = r === MOVED || r === ARRIVED;
        if (r !== MOVED) {
          store.npcState[s] = NpcState.idle;
          store.timerMs[s] = nowMs + this.w.rng.range(2000, 6000);
        }
      }
    }
    if (!moved && movedBefore !== 0) {
      store.flags[s] = store.flags[s]! & ~Flag.moving;
      store.vx[s] = 0;
      store.vy[s] = 0;
    }
  }

  /** A player hit NPC `s`: an idle or wandering NPC turns on them. */
  onAttacked(s: number, attacker: number): void {
    const st = this.w.store.npcState[s]!;
    if ((st === NpcState.idle || st === NpcState.wander) && this.w.store.kind[attacker] === Kind.player) this.startChase(s, attacker);
  }

  onDeath(s: number, nowMs: number): void {
    const store = this.w.store;
    store.npcState[s] = NpcState.dead;
    store.target[s] = 0;
    store.timerMs[s] = nowMs + this.respawnMs[store.group[s]!]!;
  }

  private startChase(s: number, t: number): void {
    this.w.store.npcState[s] = NpcState.chase;
    this.w.store.target[s] = this.w.store.id[t]!;
  }

  private startLeash(s: number): void {
    this.w.store.npcState[s] = NpcState.leash;
    this.w.store.target[s] = 0;
  }

  private respawn(s: number, nowMs: number): void {
    const w = this.w;
    const store = w.store;
    store.x[s] = store.homeX[s]!;
    store.y[s] = store.homeY[s]!;
    store.vx[s] = 0;
    store.vy[s] = 0;
    store.hp[s] = store.maxHp[s]!;
    store.flags[s] = 0;
    store.npcState[s] = NpcState.idle;
    store.target[s] = 0;
    store.timerMs[s] = nowMs + w.rng.range(1000, 5000);
    store.thinkMs[s] = nowMs + w.rng.range(0, SCAN_MS);
    w.grid.move(s);
  }

  /** Nearest player NPC `s` may aggro on (alive, not protected), ties by slot; -1 if none. */
  private findTarget(s: number): number {
    const w = this.w;
    const store = w.store;
    const g = store.group[s]!;
    const r2 = this.aggro2[g]!;
    if (r2 === 0) return -1;
    const n = w.grid.query(store.x[s]!, store.y[s]!, Math.sqrt(r2), w.qSlots, w.qD2);
    let best = -1;
    let bestD2 = Infinity;
    for (let i = 0; i < n; i++) {
      const p = w.qSlots[i]!;
      if (!this.attackable(p)) continue;
      const d2 = w.qD2[i]!;
      if (d2 < bestD2 || (d2 === bestD2 && p < best)) {
        best = p;
        bestD2 = d2;
      }
    }
    return best;
  }

  private attackable(p: number): boolean {
    const store = this.w.store;
    if (store.kind[p] !== Kind.player) return false;
    const f = store.flags[p]!;
    if ((f & Flag.dead) !== 0) return false;
    return !((f & Flag.linkDead) !== 0 && this.w.def.linkDeadInvulnerable);
  }

  private stepChase(s: number, nowMs: number, dtMs: number): boolean {
    const w = this.w;
    const store = w.store;
    const t = store.slotOf(store.target[s]!);
    if (t < 0 || !this.attackable(t)) {
      this.startLeash(s);
      return false;
    }
    const g = store.group[s]!;
    const hx = store.x[s]! - store.homeX[s]!;
    const hy = store.y[s]! - store.homeY[s]!;
    if (hx * hx + hy * hy > this.leash2[g]!) {
      this.startLeash(s);
      return false;
    }
    const range = w.combat.p.attackRange;
    let moved = false;
    let dx = store.x[t]! - store.x[s]!;
    let dy = store.y[t]! - store.y[s]!;
    if (dx * dx + dy * dy > range * range) {
      const r = this.stepToward(s, store.x[t]!, store.y[t]!, this.speed[g]! * dtMs * 0.001, range * STOP_FRACTION, dtMs);
      if (r === BLOCKED) {
        this.startLeash(s);
        return false;
      }
      moved = true;
      dx = store.x[t]! - store.x[s]!;
      dy = store.y[t]! - store.y[s]!;
    }
    if (dx * dx + dy * dy <= range * range && nowMs >= store.actionMs[s]!) {
      store.actionMs[s] = nowMs + w.combat.p.attackCooldownMs;
      w.dealDamage(s, t, w.combat.damage(Kind.npc, store.level[s]!, w.rng), nowMs);
    }
    return moved;
  }

  private stepLeash(s: number, nowMs: number, dtMs: number): boolean {
    const store = this.w.store;
    const g = store.group[s]!;
    const r = this.stepToward(s, store.homeX[s]!, store.homeY[s]!, this.speed[g]! * 1.5 * dtMs * 0.001, 0, dtMs);
    if (r === MOVED) return true;
    if (r === BLOCKED) {
      store.x[s] = store.homeX[s]!;
      store.y[s] = store.homeY[s]!;
      this.w.grid.move(s);
    }
    store.hp[s] = store.maxHp[s]!;
    store.npcState[s] = NpcState.idle;
    store.timerMs[s] = nowMs + this.w.rng.range(1000, 3000);
    return r === ARRIVED;
  }

  private pickWanderGoal(s: number, nowMs: number): void {
    const w = this.w;
    const store = w.store;
    const rad = this.wander[store.group[s]!]!;
    const a = w.rng.range(0, 2 * Math.PI);
    const d = rad * Math.sqrt(w.rng.float());
    let gx = store.homeX[s]! + d * Math.cos(a);
    let gy = store.homeY[s]! + d * Math.sin(a);
    gx = gx < 0 ? 0 : gx > w.def.width ? w.def.width : gx;
    gy = gy < 0 ? 0 : gy > w.def.height ? w.def.height : gy;
    if (rad === 0 || w.terrain.pointBlocked(gx, gy)) {
      store.timerMs[s] = nowMs + 1000;
      return;
    }
    store.goalX[s] = gx;
    store.goalY[s] = gy;
    store.npcState[s] = NpcState.wander;
  }

  /**
   * Moves NPC `s` toward (tx, ty) by at most `maxStep`, stopping `stop` short.
   * ARRIVED when it is (now) within stop + a hair, BLOCKED when the step would
   * cross an obstacle (it does not move), MOVED otherwise.
   */
  private stepToward(s: number, tx: number, ty: number, maxStep: number, stop: number, dtMs: number): number {
    const w = this.w;
    const store = w.store;
    const x0 = store.x[s]!;
    const y0 = store.y[s]!;
    const dx = tx - x0;
    const dy = ty - y0;
    const d = Math.sqrt(dx * dx + dy * dy);
    const want = d - stop;
    if (want <= 0.01) return ARRIVED;
    const step = want < maxStep ? want : maxStep;
    if (step <= 0) return MOVED;
    const nx = Math.fround(x0 + (dx / d) * step);
    const ny = Math.fround(y0 + (dy / d) * step);
    if (w.terrain.segmentBlocked(x0, y0, nx, ny)) return BLOCKED;
    w.moveEntity(s, nx, ny, dtMs);
    return step === want ? ARRIVED : MOVED;
  }
}
