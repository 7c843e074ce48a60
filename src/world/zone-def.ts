// A zone's static definition: geometry, spawn points, portals, obstacles, NPC
// population and the tuning of area of interest, movement and combat. Plain
// data (JSON/YAML friendly) so the lead can map config onto it; the World
// compiles it into typed arrays once (cold path).
//
// Units: 1 unit = 1 metre, speeds in units per second, times in ms. Zones are
// at most 4096 units across because positions go on the wire as 1/16 unit in
// a uint16.

import { Rng } from './rng.js';
import { WorldError, WorldErrorCode } from './errors.js';
import type { Content, ZoneContentRef } from './content.js';
import { applyContent } from './content.js';
import { REFERENCE_CONTENT } from '../content/reference.js';

/** Largest zone side: 65536 / 16 (positions are 1/16 unit in a uint16 on the wire). */
export const MAX_ZONE_SIZE = 4096;
/** Entity slots are 16 bits of the entity id, so a zone holds at most this many entities. */
export const MAX_ENTITIES = 65536;

/** Axis-aligned rectangle: corner (x, y), extent w by h. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface PortalDef {
  /** Trigger area (edges included): an accepted move ending inside hands the player to targetZone. */
  rect: Rect;
  targetZone: number;
  /** Arrival position in the target zone; must be free there and outside its portals. */
  targetX: number;
  targetY: number;
}

export interface LootEntry {
  /** Item id, 1..65535 (0 means an empty inventory slot). Opaque to the world. */
  item: number;
  /** Probability (0..1) that a kill drops this entry, rolled per entry. */
  chance: number;
  min: number;
  max: number;
  /** Name shown on the loot entity (EntityEnter.name); '' for none. */
  name?: string;
}

export interface NpcGroupDef {
  /** Display name of every member (EntityEnter.name). */
  name: string;
  count: number;
  levelMin: number;
  levelMax: number;
  /** A wandering NPC attacks the nearest player within this distance. */
  aggroRadius: number;
  /** A chasing NPC farther than this from its spawn point gives up, runs home and heals. */
  leashRadius: number;
  /** Wander targets are picked within this distance of the spawn point. */
  wanderRadius: number;
  /** Chase speed (units/s); wander at half, leash home at 1.5 times. */
  speed: number;
  respawnDelayMs: number;
  /** Where members' spawn points are scattered (default: the whole zone). */
  area?: Rect;
  loot: LootEntry[];
  /** Index into ZoneDef.npcKinds: the content's NPC kind of the members (ZoneApi.npcKindOf). */
  kind?: number;
  /** Max HP at level 1 and per level above (default: combat.npcHpBase / npcHpPerLevel). */
  hp?: number;
  hpPerLevel?: number;
  /** Index into ZoneDef.abilities: how members attack (default: the zone's combat numbers). */
  ability?: number;
}

/** An attack's numbers; a field left out takes the zone's combat value (content.ts AbilityDef). */
export interface AbilityParams {
  name: string;
  range?: number;
  cooldownMs?: number;
  damage?: number;
  damagePerLevel?: number;
  variance?: number;
}

export interface AoiParams {
  /** An entity enters a player's view within this distance... */
  radius: number;
  /** ...and leaves it only beyond radius + hysteresis. */
  hysteresis: number;
  /** At most this many entities are visible to one player, nearest first. */
  visibleCap: number;
  /**
   * Fraction of visibleCap reserved for players, 0..1: past the cap the
   * nearest players get round(visibleCap * playerShare) slots before NPCs and
   * loot, so a crowd of nearer NPCs cannot hide a player. 0: nearest first
   * whatever the kind. Default DEFAULT_PLAYER_SHARE.
   */
  playerShare?: number;
  /** Side of a spatial-grid cell. About half the view radius keeps queries tight. */
  cellSize: number;
  /**
   * A player's view is recomputed every this many ticks (staggered across
   * players); in between only vanished entities leave it and updates flow.
   * 1 = every tick. 2 halves the AOI cost at the price of enters/leaves up to
   * one tick late (50 ms at 20 Hz).
   */
  refreshTicks: number;
  /**
   * A player is sent what it sees (positions, enters, leaves) every this
   * many ticks, staggered across players; combat events about it and what
   * it sees still go out the tick they happen. 1 = every tick. 2 at 20 Hz
   * = 10 updates a second: half the frames, each carrying two ticks of
   * movement (Colyseus's patch rate, Unreal's net update frequency).
   */
  updateTicks: number;
}

export interface MovementParams {
  /** Game speed of a player (units/s). */
  maxSpeed: number;
  /** Extra speed the server tolerates for clock drift and rounding (0.1 = 10 %). */
  speedTolerance: number;
  /** Movement (in ms at max speed) that may arrive at once after network jitter bunched packets. */
  burstMs: number;
  /** A single move longer than this is a teleport, whatever the budget. */
  teleportDistance: number;
  /** Longest server stall (ms) whose bunched moves are still accepted (see movement.ts). Default 0. */
  stallGraceMs?: number;
}

export interface CombatParams {
  attackRange: number;
  attackCooldownMs: number;
  /** Damage of one hit: base + perLevel * (level - 1), then +-variance (fraction). */
  playerDamageBase: number;
  playerDamagePerLevel: number;
  npcDamageBase: number;
  npcDamagePerLevel: number;
  damageVariance: number;
  /** Max HP: base + perLevel * (level - 1). */
  playerHpBase: number;
  playerHpPerLevel: number;
  npcHpBase: number;
  npcHpPerLevel: number;
  playerRespawnMs: number;
  /** XP for killing an NPC: base + perLevel * npcLevel. Player kills give none (no alt farming). */
  xpPerKillBase: number;
  xpPerKillPerLevel: number;
  /** Total XP needed to reach level L: round(levelXpBase * (L - 1) ^ levelXpExponent). */
  levelXpBase: number;
  levelXpExponent: number;
  maxLevel: number;
  /** An entity counts as in combat (flag bit 1) this long after it hit or was hit. */
  combatFlagMs: number;
  /** Out-of-combat regeneration, percent of max HP per second (applied once a second). */
  regenPercentPerSec: number;
  /** Whether players may attack players. */
  pvp: boolean;
  /** Range of Interact (loot pick-up). */
  interactRange: number;
  /** Loot on the ground disappears after this long. */
  lootLifetimeMs: number;
}

export interface ZoneDef {
  /** 1..65535, unique on the server (wire: ZoneChanged.zone). */
  id: number;
  name: string;
  width: number;
  height: number;
  /** Seed of the zone's PRNG (NPC placement, wander, damage rolls). */
  seed: number;
  maxPlayers: number;
  /** Loot entities on the ground at once; drops beyond it are lost (counted). */
  maxLoot: number;
  spawnPoints: Point[];
  portals: PortalDef[];
  /** Solid rectangles (open interior: edges are walkable). */
  obstacles: Rect[];
  npcs: NpcGroupDef[];
  aoi: AoiParams;
  movement: MovementParams;
  combat: CombatParams;
  /** Say chat reaches players within this distance of the speaker. */
  sayRadius: number;
  /**
   * Most players one Say line reaches, nearest first (default
   * DEFAULT_SAY_MAX_LISTENERS): a line said in a crowd of a thousand would
   * otherwise cost a thousand messages, and a crowd all talking, a million.
   */
  sayMaxListeners?: number;
  /** Link-dead (zombie session) players cannot be attacked and NPCs ignore them; otherwise they just stand there. */
  linkDeadInvulnerable: boolean;
  /** The content's NPC kind keys (NpcGroupDef.kind indexes it). */
  npcKinds?: string[];
  /** The content's abilities (NpcGroupDef.ability, playerAbility and ZoneApi.useAbility index it). */
  abilities?: AbilityParams[];
  /** What a player's Attack uses (default: the zone's combat numbers). */
  playerAbility?: number;
  /** The content module whose hooks the zone worker runs (absent: no hooks). */
  content?: ZoneContentRef;
}

/** Most players one Say line reaches unless a zone says otherwise: as many as a player sees at most (DEFAULT_AOI.visibleCap). */
export const DEFAULT_SAY_MAX_LISTENERS = 64;

/** world.aoi.playerShare's default: 48 of 64 slots for players first, 16 for the nearest of the rest. */
export const DEFAULT_PLAYER_SHARE = 0.75;
export const DEFAULT_AOI: Readonly<AoiParams> = { radius: 64, hysteresis: 8, visibleCap: 64, playerShare: DEFAULT_PLAYER_SHARE, cellSize: 32, refreshTicks: 2, updateTicks: 1 };

export const DEFAULT_MOVEMENT: Readonly<MovementParams> = {
  maxSpeed: 8,
  speedTolerance: 0.1,
  burstMs: 1000,
  teleportDistance: 24,
};

export const DEFAULT_COMBAT: Readonly<CombatParams> = {
  attackRange: 3,
  attackCooldownMs: 1000,
  playerDamageBase: 12,
  playerDamagePerLevel: 3,
  npcDamageBase: 5,
  npcDamagePerLevel: 2,
  damageVariance: 0.2,
  playerHpBase: 100,
  playerHpPerLevel: 20,
  npcHpBase: 40,
  npcHpPerLevel: 15,
  playerRespawnMs: 5000,
  xpPerKillBase: 10,
  xpPerKillPerLevel: 10,
  levelXpBase: 100,
  levelXpExponent: 1.5,
  maxLevel: 60,
  combatFlagMs: 5000,
  regenPercentPerSec: 2,
  pvp: true,
  interactRange: 3,
  lootLifetimeMs: 60_000,
};

export interface DefaultZoneOptions {
  /** Side of each (square) zone; default 1024. */
  size?: number;
  /** NPCs per zone; default 200 (three quarters wolves, a quarter bears). */
  npcsPerZone?: number;
  /** Default 6000. */
  maxPlayers?: number;
  /** Added to each zone's seed; default 0. */
  seed?: number;
  /** The game's NPCs, loot and abilities (validated already); default the reference game (src/content/reference.ts). */
  content?: Content;
}

const ZONE_NAMES = ['Greenvale', 'Stonereach', 'Ashfall', 'Mirewood', 'Frostmere', 'Sunspire', 'Duskhollow', 'Ironcrag'];

/**
 * `count` default zones (ids 1..count) linked in a ring by portals: walking
 * off the east edge of zone i arrives at the west edge of zone i+1, and west
 * leads back (zone 1's west portal leads to the last zone). One zone has no
 * portals. Each zone has five spawn points, a few walls and an NPC
 * population. Cold path; allocates.
 */
export function defaultZoneDefs(count: number, opts: DefaultZoneOptions = {}): ZoneDef[] {
  if (!Number.isInteger(count) || count < 1 || count > 65535) {
    throw new WorldError(WorldErrorCode.zoneDef, `zone count must be an integer from 1 to 65535, got ${count}`);
  }
  const size = opts.size ?? 1024;
  const npcs = opts.npcsPerZone ?? 200;
  const defs: ZoneDef[] = [];
  for (let i = 0; i < count; i++) {
    const id = i + 1;
    const mid = size / 2;
    const portals: PortalDef[] = [];
    if (count > 1) {
      const east = (i + 1) % count;
      const west = (i - 1 + count) % count;
      portals.push({ rect: { x: size - 8, y: mid - 32, w: 8, h: 64 }, targetZone: east + 1, targetX: 24, targetY: mid });
      portals.push({ rect: { x: 0, y: mid - 32, w: 8, h: 64 }, targetZone: west + 1, targetX: size - 24, targetY: mid });
    }
    const q = size / 4;
    const spawnPoints: Point[] = [
      { x: mid, y: mid },
      { x: q, y: q },
      { x: 3 * q, y: q },
      { x: q, y: 3 * q },
      { x: 3 * q, y: 3 * q },
    ];
    const seed = ((opts.seed ?? 0) + 0x5eed0000 + id) >>> 0;
    const def: ZoneDef = {
      id,
      name: count <= ZONE_NAMES.length ? ZONE_NAMES[i]! : `${ZONE_NAMES[i % ZONE_NAMES.length]} ${Math.floor(i / ZONE_NAMES.length) + 1}`,
      width: size,
      height: size,
      seed,
      maxPlayers: opts.maxPlayers ?? 6000,
      maxLoot: 512,
      spawnPoints,
      portals,
      obstacles: [],
      npcs: [],
      aoi: { ...DEFAULT_AOI },
      movement: { ...DEFAULT_MOVEMENT },
      combat: { ...DEFAULT_COMBAT },
      sayRadius: 32,
      sayMaxListeners: DEFAULT_SAY_MAX_LISTENERS,
      linkDeadInvulnerable: true,
    };
    applyContent(def, opts.content ?? REFERENCE_CONTENT, npcs);
    def.obstacles = scatterWalls(def, new Rng(seed), 8);
    defs.push(def);
  }
  return defs;
}

// Walls placed by the zone's seed, kept clear of spawn points, portals and
// arrival points (a margin of 24 units) so nobody starts or arrives inside one.
function scatterWalls(def: ZoneDef, rng: Rng, n: number): Rect[] {
  const walls: Rect[] = [];
  const keepClear: Point[] = [...def.spawnPoints];
  for (const p of def.portals) keepClear.push({ x: p.rect.x + p.rect.w / 2, y: p.rect.y + p.rect.h / 2 });
  // Arrival points in this zone: where the neighbours' portals lead.
  keepClear.push({ x: 24, y: def.height / 2 }, { x: def.width - 24, y: def.height / 2 });
  for (let tries = 0; walls.length < n && tries < 200; tries++) {
    const horizontal = rng.chance(0.5);
    const long = Math.round(rng.range(32, 128));
    const thick = Math.round(rng.range(4, 12));
    const w = horizontal ? long : thick;
    const h = horizontal ? thick : long;
    const r: Rect = { x: Math.round(rng.range(16, def.width - 16 - w)), y: Math.round(rng.range(16, def.height - 16 - h)), w, h };
    if (keepClear.some((p) => distToRect(p.x, p.y, r) < 48)) continue;
    if (walls.some((o) => rectsOverlap(o, r, 8))) continue;
    walls.push(r);
  }
  return walls;
}

function distToRect(px: number, py: number, r: Rect): number {
  const dx = Math.max(r.x - px, 0, px - (r.x + r.w));
  const dy = Math.max(r.y - py, 0, py - (r.y + r.h));
  return Math.hypot(dx, dy);
}

function rectsOverlap(a: Rect, b: Rect, margin: number): boolean {
  return a.x - margin < b.x + b.w && b.x - margin < a.x + a.w && a.y - margin < b.y + b.h && b.y - margin < a.y + a.h;
}

/** Whether (x, y) lies strictly inside r (edges excluded): the solid part of an obstacle. */
export function insideOpen(r: Rect, x: number, y: number): boolean {
  return x > r.x && x < r.x + r.w && y > r.y && y < r.y + r.h;
}

/** Whether (x, y) lies inside r, edges included: a portal's trigger area. */
export function insideClosed(r: Rect, x: number, y: number): boolean {
  return x >= r.x && x <= r.x + r.w && y >= r.y && y <= r.y + r.h;
}

/** Entity slots a zone needs: players, NPCs and loot. */
export function zoneCapacity(def: ZoneDef): number {
  let n = def.maxPlayers + def.maxLoot;
  for (const g of def.npcs) n += g.count;
  return n;
}

/** Throws WorldError(MMO_ERR_ZONE_DEF) listing every problem with one zone. Cold path. */
export function validateZoneDef(def: ZoneDef): void {
  const issues: string[] = [];
  const z = `zone ${String(def.id)}`;
  const int = (v: unknown, lo: number, hi: number, what: string): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) issues.push(`${z} ${what} = ${String(v)}: allowed an integer from ${lo} to ${hi}`);
  };
  const num = (v: unknown, lo: number, hi: number, what: string, openLo = false): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (openLo && v === lo)) {
      issues.push(`${z} ${what} = ${String(v)}: allowed a number ${openLo ? 'above' : 'from'} ${lo}${Number.isFinite(hi) ? ` to ${hi}` : ''}`);
    }
  };
  const rect = (r: Rect | undefined, what: string): boolean => {
    if (!r || typeof r !== 'object') {
      issues.push(`${z} ${what}: missing rectangle`);
      return false;
    }
    const before = issues.length;
    num(r.w, 0, MAX_ZONE_SIZE, `${what}.w`, true);
    num(r.h, 0, MAX_ZONE_SIZE, `${what}.h`, true);
    num(r.x, 0, def.width, `${what}.x`);
    num(r.y, 0, def.height, `${what}.y`);
    if (issues.length === before && (r.x + r.w > def.width || r.y + r.h > def.height)) issues.push(`${z} ${what} extends past the zone bounds`);
    return issues.length === before;
  };

  int(def.id, 1, 65535, 'id');
  if (typeof def.name !== 'string' || def.name.length === 0 || def.name.length > 64) issues.push(`${z} name must be 1 to 64 characters`);
  num(def.width, 16, MAX_ZONE_SIZE, 'width');
  num(def.height, 16, MAX_ZONE_SIZE, 'height');
  int(def.seed, 0, 0xffffffff, 'seed');
  int(def.maxPlayers, 1, MAX_ENTITIES, 'maxPlayers');
  int(def.maxLoot, 0, MAX_ENTITIES, 'maxLoot');
  num(def.sayRadius, 0, MAX_ZONE_SIZE, 'sayRadius', true);
  if (def.sayMaxListeners !== undefined) int(def.sayMaxListeners, 1, MAX_ENTITIES, 'sayMaxListeners');
  if (typeof def.linkDeadInvulnerable !== 'boolean') issues.push(`${z} linkDeadInvulnerable must be a boolean`);

  const a = def.aoi;
  if (!a) issues.push(`${z} aoi missing`);
  else {
    num(a.radius, 0, MAX_ZONE_SIZE, 'aoi.radius', true);
    num(a.hysteresis, 0, MAX_ZONE_SIZE, 'aoi.hysteresis');
    int(a.visibleCap, 1, 1024, 'aoi.visibleCap');
    if (a.playerShare !== undefined) num(a.playerShare, 0, 1, 'aoi.playerShare');
    num(a.cellSize, 1, MAX_ZONE_SIZE, 'aoi.cellSize');
    int(a.refreshTicks, 1, 16, 'aoi.refreshTicks');
    int(a.updateTicks, 1, 16, 'aoi.updateTicks');
    if (Number.isFinite(a.cellSize) && a.cellSize >= 1 && Math.ceil(def.width / a.cellSize) * Math.ceil(def.height / a.cellSize) > 1 << 20) {
      issues.push(`${z} aoi.cellSize ${a.cellSize} makes more than 2^20 grid cells`);
    }
  }
  const m = def.movement;
  if (!m) issues.push(`${z} movement missing`);
  else {
    num(m.maxSpeed, 0, 1000, 'movement.maxSpeed', true);
    num(m.speedTolerance, 0, 1, 'movement.speedTolerance');
    num(m.burstMs, 0, 10_000, 'movement.burstMs');
    num(m.teleportDistance, 0, MAX_ZONE_SIZE, 'movement.teleportDistance', true);
    if (m.stallGraceMs !== undefined) num(m.stallGraceMs, 0, 60_000, 'movement.stallGraceMs');
  }
  const c = def.combat;
  if (!c) issues.push(`${z} combat missing`);
  else {
    num(c.attackRange, 0, 1000, 'combat.attackRange', true);
    num(c.attackCooldownMs, 0, 600_000, 'combat.attackCooldownMs');
    num(c.playerDamageBase, 0, 65535, 'combat.playerDamageBase');
    num(c.playerDamagePerLevel, 0, 65535, 'combat.playerDamagePerLevel');
    num(c.npcDamageBase, 0, 65535, 'combat.npcDamageBase');
    num(c.npcDamagePerLevel, 0, 65535, 'combat.npcDamagePerLevel');
    num(c.damageVariance, 0, 1, 'combat.damageVariance');
    int(c.maxLevel, 1, 255, 'combat.maxLevel');
    num(c.playerHpBase, 1, 65535, 'combat.playerHpBase');
    num(c.playerHpPerLevel, 0, 65535, 'combat.playerHpPerLevel');
    num(c.npcHpBase, 1, 65535, 'combat.npcHpBase');
    num(c.npcHpPerLevel, 0, 65535, 'combat.npcHpPerLevel');
    if (Number.isInteger(c.maxLevel)) {
      if (c.playerHpBase + c.playerHpPerLevel * (c.maxLevel - 1) > 65535) issues.push(`${z} player max HP at maxLevel exceeds 65535`);
      if (c.npcHpBase + c.npcHpPerLevel * (c.maxLevel - 1) > 65535) issues.push(`${z} NPC max HP at maxLevel exceeds 65535`);
    }
    num(c.playerRespawnMs, 0, 3_600_000, 'combat.playerRespawnMs');
    num(c.xpPerKillBase, 0, 1e6, 'combat.xpPerKillBase');
    num(c.xpPerKillPerLevel, 0, 1e6, 'combat.xpPerKillPerLevel');
    num(c.levelXpBase, 0, 1e7, 'combat.levelXpBase', true);
    num(c.levelXpExponent, 0.5, 4, 'combat.levelXpExponent');
    num(c.combatFlagMs, 0, 600_000, 'combat.combatFlagMs');
    num(c.regenPercentPerSec, 0, 100, 'combat.regenPercentPerSec');
    if (typeof c.pvp !== 'boolean') issues.push(`${z} combat.pvp must be a boolean`);
    num(c.interactRange, 0, 1000, 'combat.interactRange', true);
    num(c.lootLifetimeMs, 0, 3_600_000, 'combat.lootLifetimeMs', true);
    if (Number.isFinite(c.levelXpBase) && Number.isFinite(c.levelXpExponent) && Number.isInteger(c.maxLevel)) {
      if (c.levelXpBase * Math.pow(c.maxLevel - 1, c.levelXpExponent) > 0xffffffff) issues.push(`${z} XP for maxLevel exceeds 2^32 - 1`);
    }
  }

  if (!Array.isArray(def.obstacles)) issues.push(`${z} obstacles must be a list`);
  else def.obstacles.forEach((r, i) => rect(r, `obstacles[${i}]`));
  if (!Array.isArray(def.portals)) issues.push(`${z} portals must be a list`);
  else {
    def.portals.forEach((p, i) => {
      rect(p.rect, `portals[${i}].rect`);
      int(p.targetZone, 1, 65535, `portals[${i}].targetZone`);
      num(p.targetX, 0, MAX_ZONE_SIZE, `portals[${i}].targetX`);
      num(p.targetY, 0, MAX_ZONE_SIZE, `portals[${i}].targetY`);
      if (p.targetZone === def.id) issues.push(`${z} portals[${i}] leads to its own zone`);
    });
  }
  if (!Array.isArray(def.spawnPoints) || def.spawnPoints.length === 0) issues.push(`${z} needs at least one spawn point`);
  else {
    def.spawnPoints.forEach((p, i) => {
      const before = issues.length;
      num(p.x, 0, def.width, `spawnPoints[${i}].x`);
      num(p.y, 0, def.height, `spawnPoints[${i}].y`);
      if (issues.length !== before) return;
      if (Array.isArray(def.obstacles) && def.obstacles.some((r) => r && insideOpen(r, p.x, p.y))) issues.push(`${z} spawnPoints[${i}] is inside an obstacle`);
      if (Array.isArray(def.portals) && def.portals.some((q) => q.rect && insideClosed(q.rect, p.x, p.y))) issues.push(`${z} spawnPoints[${i}] is inside a portal`);
    });
  }
  if (!Array.isArray(def.npcs)) issues.push(`${z} npcs must be a list`);
  else {
    if (def.npcs.length > 255) issues.push(`${z} has more than 255 NPC groups`);
    def.npcs.forEach((g, i) => {
      const w = `npcs[${i}]`;
      if (typeof g.name !== 'string' || g.name.length > 64) issues.push(`${z} ${w}.name must be at most 64 characters`);
      int(g.count, 0, MAX_ENTITIES, `${w}.count`);
      int(g.levelMin, 1, c?.maxLevel ?? 255, `${w}.levelMin`);
      int(g.levelMax, 1, c?.maxLevel ?? 255, `${w}.levelMax`);
      if (g.levelMax < g.levelMin) issues.push(`${z} ${w}.levelMax is below levelMin`);
      num(g.aggroRadius, 0, MAX_ZONE_SIZE, `${w}.aggroRadius`);
      num(g.leashRadius, 0, MAX_ZONE_SIZE, `${w}.leashRadius`, true);
      num(g.wanderRadius, 0, MAX_ZONE_SIZE, `${w}.wanderRadius`);
      num(g.speed, 0, 1000, `${w}.speed`, true);
      num(g.respawnDelayMs, 0, 3_600_000, `${w}.respawnDelayMs`);
      if (g.area !== undefined) rect(g.area, `${w}.area`);
      if (g.hp !== undefined) num(g.hp, 1, 65535, `${w}.hp`);
      if (g.hpPerLevel !== undefined) num(g.hpPerLevel, 0, 65535, `${w}.hpPerLevel`);
      if (g.ability !== undefined) int(g.ability, 0, (def.abilities?.length ?? 0) - 1, `${w}.ability`);
      if (g.kind !== undefined) int(g.kind, 0, (def.npcKinds?.length ?? 0) - 1, `${w}.kind`);
      if (!Array.isArray(g.loot)) issues.push(`${z} ${w}.loot must be a list`);
      else {
        g.loot.forEach((l, j) => {
          int(l.item, 1, 65535, `${w}.loot[${j}].item`);
          num(l.chance, 0, 1, `${w}.loot[${j}].chance`);
          int(l.min, 1, 65535, `${w}.loot[${j}].min`);
          int(l.max, 1, 65535, `${w}.loot[${j}].max`);
          if (l.max < l.min) issues.push(`${z} ${w}.loot[${j}].max is below min`);
          if (l.name !== undefined && (typeof l.name !== 'string' || l.name.length > 64)) issues.push(`${z} ${w}.loot[${j}].name must be at most 64 characters`);
        });
      }
    });
  }
  if (def.abilities !== undefined) {
    if (!Array.isArray(def.abilities) || def.abilities.length > 255) issues.push(`${z} abilities must be a list of at most 255`);
    else {
      def.abilities.forEach((a, i) => {
        const w = `abilities[${i}]`;
        if (a.range !== undefined) num(a.range, 0, 1000, `${w}.range`, true);
        if (a.cooldownMs !== undefined) num(a.cooldownMs, 0, 600_000, `${w}.cooldownMs`);
        if (a.damage !== undefined) num(a.damage, 0, 65535, `${w}.damage`);
        if (a.damagePerLevel !== undefined) num(a.damagePerLevel, 0, 65535, `${w}.damagePerLevel`);
        if (a.variance !== undefined) num(a.variance, 0, 1, `${w}.variance`);
      });
    }
  }
  if (def.playerAbility !== undefined) int(def.playerAbility, 0, (def.abilities?.length ?? 0) - 1, 'playerAbility');
  if (issues.length === 0 && zoneCapacity(def) > MAX_ENTITIES) {
    issues.push(`${z} needs ${zoneCapacity(def)} entity slots (maxPlayers + NPCs + maxLoot); at most ${MAX_ENTITIES}`);
  }
  if (issues.length > 0) throw new WorldError(WorldErrorCode.zoneDef, `invalid zone definition ${String(def.id)}`, issues);
}

/**
 * Validates every zone, then the links between them: unique ids, portals
 * leading to zones that exist, arrival points inside the target zone, not in
 * its obstacles and not inside its portals (which would bounce the player
 * straight back). Throws WorldError(MMO_ERR_ZONE_DEF). Cold path.
 */
export function validateZoneSet(defs: readonly ZoneDef[]): void {
  const issues: string[] = [];
  const byId = new Map<number, ZoneDef>();
  for (const d of defs) {
    try {
      validateZoneDef(d);
    } catch (err) {
      if (err instanceof WorldError) issues.push(...err.issues);
      else throw err;
    }
    if (byId.has(d.id)) issues.push(`zone id ${d.id} is used twice`);
    byId.set(d.id, d);
  }
  for (const d of defs) {
    if (!Array.isArray(d.portals)) continue;
    d.portals.forEach((p, i) => {
      const t = byId.get(p.targetZone);
      const w = `zone ${d.id} portals[${i}]`;
      if (!t) {
        issues.push(`${w} leads to zone ${p.targetZone}, which does not exist`);
        return;
      }
      if (!(p.targetX >= 0 && p.targetX <= t.width && p.targetY >= 0 && p.targetY <= t.height)) issues.push(`${w} arrives outside zone ${t.id}`);
      else if (t.obstacles?.some((r) => insideOpen(r, p.targetX, p.targetY))) issues.push(`${w} arrives inside an obstacle of zone ${t.id}`);
      else if (t.portals?.some((q) => insideClosed(q.rect, p.targetX, p.targetY))) issues.push(`${w} arrives inside a portal of zone ${t.id}`);
    });
  }
  if (issues.length > 0) throw new WorldError(WorldErrorCode.zoneDef, 'invalid zone set', issues);
}
