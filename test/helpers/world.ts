// Test helpers for the world layer: a small empty zone, and a Recorder that
// is at once the WorldEvents sink, the DeltaWriter and the SnapshotWriter. It
// keeps a client-side model of each session's view (what a real client would
// believe it sees) and throws on any protocol inconsistency: an enter of an
// entity already shown, a leave or update of one not shown, begin without end.

import {
  DEFAULT_PLAYER_SHARE,
  Kind,
  defaultZoneDefs,
  type DeltaWriter,
  type MoveRejectReason,
  type PlayerState,
  type SnapshotWriter,
  type World,
  type WorldEvents,
  type ZoneDef,
  clonePlayerState,
  newPlayerState,
} from '../../src/world/index.js';

/** A 256 x 256 zone with one spawn point in the middle, no NPCs, no obstacles, no portals, AOI refreshed every tick. */
export function testZone(over: Partial<ZoneDef> = {}): ZoneDef {
  const d = defaultZoneDefs(1, { size: 256, npcsPerZone: 0 })[0]!;
  return {
    ...d,
    maxPlayers: 512,
    maxLoot: 64,
    spawnPoints: [{ x: 128, y: 128 }],
    portals: [],
    obstacles: [],
    npcs: [],
    aoi: { ...d.aoi, refreshTicks: 1 },
    ...over,
  };
}

/** Movement rules that accept any in-bounds, unobstructed move (for tests about something else). */
export const FREE_MOVE = { maxSpeed: 1000, speedTolerance: 0, burstMs: 10_000, teleportDistance: 4096 } as const;

export function playerAt(name: string, x: number, y: number, extra: Partial<PlayerState> = {}): PlayerState {
  return { ...newPlayerState(name), x, y, ...extra };
}

export interface EntityView {
  id: number;
  kind: number;
  qx: number;
  qy: number;
  hp: number;
  maxHp: number;
  level: number;
  flags: number;
  facing: number;
  name: string;
}

export interface DeltaRecord {
  tick: number;
  session: number;
  leaves: number[];
  enters: EntityView[];
  updates: EntityView[];
  damages: Array<{ attacker: number; target: number; amount: number; hpLeft: number }>;
  deaths: Array<{ entity: number; killer: number }>;
}

export type EventRecord =
  | { type: 'moveRejected'; session: number; seq: number; x: number; y: number; reason: MoveRejectReason }
  | { type: 'selfState'; session: number; hp: number; maxHp: number; level: number; xp: number }
  | { type: 'levelUp'; session: number; level: number; xp: number }
  | { type: 'itemGained'; session: number; item: number; count: number; total: number }
  | { type: 'respawn'; session: number; x: number; y: number; hp: number }
  | { type: 'handoff'; session: number; state: PlayerState; targetZone: number; x: number; y: number };

export class Recorder implements DeltaWriter, SnapshotWriter, WorldEvents {
  world!: World;
  /** Client-side model: what each session believes it sees (entity id -> last known state). */
  readonly views = new Map<number, Map<number, EntityView>>();
  deltas: DeltaRecord[] = [];
  events: EventRecord[] = [];
  snapshots: Array<{ session: number; entities: EntityView[] }> = [];
  private cur: DeltaRecord | null = null;
  private snap: { session: number; entities: EntityView[] } | null = null;

  attach(world: World): this {
    this.world = world;
    return this;
  }

  view(session: number): Map<number, EntityView> {
    let v = this.views.get(session);
    if (!v) this.views.set(session, (v = new Map()));
    return v;
  }

  read(slot: number): EntityView {
    const s = this.world.store;
    return {
      id: s.id[slot]!,
      kind: s.kind[slot]!,
      qx: s.qx[slot]!,
      qy: s.qy[slot]!,
      hp: s.hp[slot]!,
      maxHp: s.maxHp[slot]!,
      level: s.level[slot]!,
      flags: s.flags[slot]!,
      facing: s.facing[slot]!,
      name: s.names[slot]!,
    };
  }

  clear(): void {
    this.deltas = [];
    this.events = [];
    this.snapshots = [];
  }

  // DeltaWriter
  begin(_observer: number, session: number): void {
    if (this.cur) throw new Error('begin without end');
    this.cur = { tick: this.world.tickCount, session, leaves: [], enters: [], updates: [], damages: [], deaths: [] };
  }
  enter(slot: number): void {
    const c = this.need();
    const e = this.read(slot);
    const v = this.view(c.session);
    if (v.has(e.id)) throw new Error(`session ${c.session}: enter of ${e.id}, already visible`);
    v.set(e.id, e);
    c.enters.push(e);
  }
  update(slot: number): void {
    const c = this.need();
    const e = this.read(slot);
    const v = this.view(c.session);
    if (!v.has(e.id)) throw new Error(`session ${c.session}: update of ${e.id}, not visible`);
    v.set(e.id, e);
    c.updates.push(e);
  }
  leave(id: number): void {
    const c = this.need();
    const v = this.view(c.session);
    if (!v.delete(id)) throw new Error(`session ${c.session}: leave of ${id}, not visible`);
    c.leaves.push(id);
  }
  damage(attacker: number, target: number, amount: number, hpLeft: number): void {
    this.need().damages.push({ attacker, target, amount, hpLeft });
  }
  death(entity: number, killer: number): void {
    this.need().deaths.push({ entity, killer });
  }
  end(): void {
    const c = this.need();
    const empty = c.leaves.length + c.enters.length + c.updates.length + c.damages.length + c.deaths.length === 0;
    if (empty) throw new Error('begin/end with nothing in between');
    this.deltas.push(c);
    this.cur = null;
  }
  private need(): DeltaRecord {
    if (!this.cur) throw new Error('delta call outside begin/end');
    return this.cur;
  }

  // SnapshotWriter
  snapshotBegin(_observer: number, session: number): void {
    this.snap = { session, entities: [] };
  }
  snapshotEntity(slot: number): void {
    this.snap!.entities.push(this.read(slot));
  }
  snapshotEnd(): void {
    const s = this.snap!;
    this.views.set(s.session, new Map(s.entities.map((e) => [e.id, e])));
    this.snapshots.push(s);
    this.snap = null;
  }

  // WorldEvents
  moveRejected(session: number, seq: number, x: number, y: number, reason: MoveRejectReason): void {
    this.events.push({ type: 'moveRejected', session, seq, x, y, reason });
  }
  selfState(session: number, slot: number): void {
    const s = this.world.store;
    this.events.push({ type: 'selfState', session, hp: s.hp[slot]!, maxHp: s.maxHp[slot]!, level: s.level[slot]!, xp: s.xp[slot]! });
  }
  levelUp(session: number, _slot: number, level: number, xp: number): void {
    this.events.push({ type: 'levelUp', session, level, xp });
  }
  itemGained(session: number, _slot: number, item: number, count: number, total: number): void {
    this.events.push({ type: 'itemGained', session, item, count, total });
  }
  respawn(session: number, _slot: number, x: number, y: number, hp: number): void {
    this.events.push({ type: 'respawn', session, x, y, hp });
  }
  handoff(session: number, state: PlayerState, targetZone: number, x: number, y: number): void {
    this.events.push({ type: 'handoff', session, state: clonePlayerState(state), targetZone, x, y });
  }

  eventsOf<T extends EventRecord['type']>(type: T): Array<Extract<EventRecord, { type: T }>> {
    return this.events.filter((e): e is Extract<EventRecord, { type: T }> => e.type === type);
  }
}

// Reference model of the visibility rule (see src/world/visibility.ts),
// computed by scanning every entity.
export function expectedView(w: World, o: number, prev: ReadonlySet<number>): Set<number> {
  const s = w.store;
  const { radius: R, hysteresis: H, visibleCap: cap } = w.def.aoi;
  const cands: Array<{ slot: number; id: number; key: number }> = [];
  for (let e = 0; e < s.highWater; e++) {
    if (e === o || s.kind[e] === Kind.free) continue;
    const dx = s.x[e]! - s.x[o]!;
    const dy = s.y[e]! - s.y[o]!;
    const d2 = dx * dx + dy * dy;
    const visible = prev.has(s.id[e]!);
    if (visible ? d2 <= (R + H) * (R + H) : d2 <= R * R) cands.push({ slot: e, id: s.id[e]!, key: Math.sqrt(d2) - (visible ? H : 0) });
  }
  cands.sort((a, b) => a.key - b.key || a.slot - b.slot);
  if (cands.length <= cap) return new Set(cands.map((c) => c.id));
  // Players first: round(cap * playerShare) slots for the nearest players, the rest for the nearest of what remains.
  const reserve = Math.round(cap * (w.def.aoi.playerShare ?? DEFAULT_PLAYER_SHARE));
  const chosen = new Set(cands.filter((c) => s.kind[c.slot] === Kind.player).slice(0, reserve));
  for (const c of cands) if (chosen.size < cap) chosen.add(c);
  return new Set([...chosen].map((c) => c.id));
}

export function worldView(w: World, o: number): Set<number> {
  const base = o * w.vis.cap;
  return new Set(Array.from(w.vis.sets.subarray(base, base + w.vis.counts[o]!)));
}
