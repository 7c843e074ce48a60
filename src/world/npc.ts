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
import { Reg } from './scratch.js';

export const NpcState = { idle: 0, wander: 1, chase: 2, leash: 3, dead: 4 } as const;

/** Aggro scans per NPC are this far apart (staggered), so 1,000 NPCs cost ~50 grid queries a tick at 20 Hz. */
export const SCAN_MS = 250;
const STOP_FRACTION = 0.8;

const MOVED = 0;
const ARRIVED = 1;
const BLOCKED = 2;

export class NpcAi {
  private readonly aggro: Float64Array;
  private readonly aggro2: Float64Array;
  private readonly leash2: Float64Array;
  private readonly wander: Float64Array;
  private readonly speed: Float64Array;
  private readonly respawnMs: Float64Array;
  /** Ability index per group (CombatRules tables). */
  private readonly ability: Int32Array;
  /** stepToward() operands: target x, y, max step, stop distance (no double arguments: see scratch.ts). */
  private readonly go = new Float64Array(4);

  /** Cold path: compiles the NPC groups. */
  constructor(private readonly w: World) {
    const g = w.def.npcs;
    this.aggro = Float64Array.from(g, (x) => x.aggroRadius);
    this.aggro2 = Float64Array.from(g, (x) => x.aggroRadius * x.aggroRadius);
    this.leash2 = Float64Array.from(g, (x) => x.leashRadius * x.leashRadius);
    this.wander = Float64Array.from(g, (x) => x.wanderRadius);
    this.speed = Float64Array.from(g, (x) => x.speed);
    this.respawnMs = Float64Array.from(g, (x) => x.respawnDelayMs);
    this.ability = Int32Array.from(g, (x) => x.ability ?? w.combat.basic);
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
        store.maxHp[s] = w.combat.npcMaxHp(store.level[s]!, g.hp, g.hpPerLevel);
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

  /** One tick of NPC `s`, at w.reg[now] with the tick's clamped duration in w.reg[dt]. */
  step(s: number): void {
    const store = this.w.store;
    const nowMs = this.w.reg[Reg.now]!;
    const st = store.npcState[s]!;
    if (st === NpcState.dead) {
      if (nowMs >= store.timerMs[s]!) this.respawn(s);
      return;
    }
    const movedBefore = store.flags[s]! & Flag.moving;
    let moved = false;
    if (st === NpcState.leash) moved = this.stepLeash(s);
    else if (st === NpcState.chase) moved = this.stepChase(s);
    else {
      if (nowMs >= store.thinkMs[s]!) {
        store.thinkMs[s] = nowMs + SCAN_MS;
        const t = this.findTarget(s);
        if (t >= 0) {
          this.startChase(s, t);
          moved = this.stepChase(s);
        }
      }
      if (store.npcState[s] === NpcState.idle) {
        if (nowMs >= store.timerMs[s]!) this.pickWanderGoal(s);
      } else if (store.npcState[s] === NpcState.wander) {
        const go = this.go;
        go[0] = store.goalX[s]!;
        go[1] = store.goalY[s]!;
        go[2] = this.speed[store.group[s]!]! * 0.5 * this.w.reg[Reg.dt]! * 0.001;
        go[3] = 0;
        const r = this.stepToward(s);
        moved = r === MOVED || r === ARRIVED;
        if (r !== MOVED) {
          store.npcState[s] = NpcState.idle;
          store.timerMs[s] = nowMs + this.w.rng.int(2000, 6000);
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

  /** NPC `s` died at w.reg[now]. */
  onDeath(s: number): void {
    const store = this.w.store;
    store.npcState[s] = NpcState.dead;
    store.target[s] = 0;
    store.timerMs[s] = this.w.reg[Reg.now]! + this.respawnMs[store.group[s]!]!;
  }

  private startChase(s: number, t: number): void {
    this.w.store.npcState[s] = NpcState.chase;
    this.w.store.target[s] = this.w.store.id[t]!;
  }

  private startLeash(s: number): void {
    this.w.store.npcState[s] = NpcState.leash;
    this.w.store.target[s] = 0;
  }

  private respawn(s: number): void {
    const w = this.w;
    const store = w.store;
    const nowMs = w.reg[Reg.now]!;
    store.x[s] = store.homeX[s]!;
    store.y[s] = store.homeY[s]!;
    store.vx[s] = 0;
    store.vy[s] = 0;
    store.hp[s] = store.maxHp[s]!;
    store.flags[s] = 0;
    store.npcState[s] = NpcState.idle;
    store.target[s] = 0;
    store.timerMs[s] = nowMs + w.rng.int(1000, 5000);
    store.thinkMs[s] = nowMs + w.rng.int(0, SCAN_MS);
    w.grid.move(s);
  }

  /** Nearest player NPC `s` may aggro on (alive, not protected), ties by slot; -1 if none. */
  private findTarget(s: number): number {
    const w = this.w;
    const store = w.store;
    const g = store.group[s]!;
    const r2 = this.aggro2[g]!;
    if (r2 === 0) return -1;
    const q = w.grid.q;
    q[0] = store.x[s]!;
    q[1] = store.y[s]!;
    q[2] = this.aggro[g]!;
    const n = w.grid.queryQ(w.qSlots, w.qD2);
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

  private stepChase(s: number): boolean {
    const w = this.w;
    const store = w.store;
    const nowMs = w.reg[Reg.now]!;
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
    const ab = this.ability[g]!;
    const range = w.combat.abRange[ab]!;
    let moved = false;
    let dx = store.x[t]! - store.x[s]!;
    let dy = store.y[t]! - store.y[s]!;
    if (dx * dx + dy * dy > range * range) {
      const go = this.go;
      go[0] = store.x[t]!;
      go[1] = store.y[t]!;
      go[2] = this.speed[g]! * w.reg[Reg.dt]! * 0.001;
      go[3] = range * STOP_FRACTION;
      const r = this.stepToward(s);
      if (r === BLOCKED) {
        this.startLeash(s);
        return false;
      }
      moved = true;
      dx = store.x[t]! - store.x[s]!;
      dy = store.y[t]! - store.y[s]!;
    }
    if (dx * dx + dy * dy <= range * range && nowMs >= store.actionMs[s]!) {
      store.actionMs[s] = nowMs + w.combat.abCooldownMs[ab]!;
      w.dealDamage(s, t, w.combat.hit(ab, Kind.npc, store.level[s]!, w.rng));
    }
    return moved;
  }

  private stepLeash(s: number): boolean {
    const store = this.w.store;
    const g = store.group[s]!;
    const go = this.go;
    go[0] = store.homeX[s]!;
    go[1] = store.homeY[s]!;
    go[2] = this.speed[g]! * 1.5 * this.w.reg[Reg.dt]! * 0.001;
    go[3] = 0;
    const r = this.stepToward(s);
    if (r === MOVED) return true;
    if (r === BLOCKED) {
      store.x[s] = store.homeX[s]!;
      store.y[s] = store.homeY[s]!;
      this.w.grid.move(s);
    }
    store.hp[s] = store.maxHp[s]!;
    store.npcState[s] = NpcState.idle;
    store.timerMs[s] = this.w.reg[Reg.now]! + this.w.rng.int(1000, 3000);
    return r === ARRIVED;
  }

  private pickWanderGoal(s: number): void {
    const w = this.w;
    const store = w.store;
    const nowMs = w.reg[Reg.now]!;
    const rad = this.wander[store.group[s]!]!;
    // Integer draws only: a double returned from a call V8 does not inline is boxed (scratch.ts).
    const a = w.rng.int(0, 65535) * ((2 * Math.PI) / 65536);
    const d = rad * Math.sqrt(w.rng.int(0, 65535) / 65535);
    let gx = store.homeX[s]! + d * Math.cos(a);
    let gy = store.homeY[s]! + d * Math.sin(a);
    gx = gx < 0 ? 0 : gx > w.def.width ? w.def.width : gx;
    gy = gy < 0 ? 0 : gy > w.def.height ? w.def.height : gy;
    w.terrain.seg[0] = gx;
    w.terrain.seg[1] = gy;
    if (rad === 0 || w.terrain.segPointBlocked()) {
      store.timerMs[s] = nowMs + 1000;
      return;
    }
    store.goalX[s] = gx;
    store.goalY[s] = gy;
    store.npcState[s] = NpcState.wander;
  }

  /**
   * Moves NPC `s` toward (go[0], go[1]) by at most go[2], stopping go[3]
   * short. ARRIVED when it is (now) within stop + a hair, BLOCKED when the
   * step would cross an obstacle (it does not move), MOVED otherwise.
   */
  private stepToward(s: number): number {
    const w = this.w;
    const store = w.store;
    const go = this.go;
    const x0 = store.x[s]!;
    const y0 = store.y[s]!;
    const dx = go[0]! - x0;
    const dy = go[1]! - y0;
    const d = Math.sqrt(dx * dx + dy * dy);
    const want = d - go[3]!;
    if (want <= 0.01) return ARRIVED;
    const maxStep = go[2]!;
    const step = want < maxStep ? want : maxStep;
    if (step <= 0) return MOVED;
    const nx = Math.fround(x0 + (dx / d) * step);
    const ny = Math.fround(y0 + (dy / d) * step);
    const seg = w.terrain.seg;
    seg[0] = x0;
    seg[1] = y0;
    seg[2] = nx;
    seg[3] = ny;
    if (w.terrain.segBlocked()) return BLOCKED;
    const reg = w.reg;
    reg[Reg.x] = nx;
    reg[Reg.y] = ny;
    reg[Reg.moveDt] = reg[Reg.dt]!;
    w.moveEntity(s);
    return step === want ? ARRIVED : MOVED;
  }
}
