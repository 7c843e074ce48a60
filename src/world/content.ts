// Game content: what a studio writes to make its game on this server (see
// docs/content.md). A content module is an ES module whose default export is a
// `Content`: NPC kinds, items, loot tables, abilities, spawn areas, and hooks
// the zone worker calls (onStart, onJoin, onInput, onTick, onDeath).
//
// Two halves:
//   - data (everything but `hooks`): validated once on the main thread at
//     start-up (validateContent; a bad module stops start-up with exit 2) and
//     compiled into each zone's ZoneDef (applyContent): NPC groups with their
//     loot resolved to item ids, abilities as a table. Plain data, so it
//     crosses to the zone workers in workerData and into checkpoints' world.
//   - hooks: functions, so they cannot cross threads; each zone worker
//     imports the same module itself (ZoneDef.content.module) and hands the
//     hooks to its World (content-host.ts runs them under a time budget and
//     an error count).
//
// The reference game (src/content/reference.ts) is written against this
// API and is what a server runs when world.content is ''.

import type { Rect, ZoneDef, NpcGroupDef, AbilityParams } from './zone-def.js';
import type { ZoneApi } from './content-api.js';
import { WorldError, WorldErrorCode } from './errors.js';

export interface ItemDef {
  /** Item id in inventories and on the wire, 1..65535. */
  id: number;
  /** Shown on loot entities on the ground (EntityEnter.name). */
  name: string;
}

export interface LootDrop {
  /** Key into Content.items. */
  item: string;
  /** Probability (0..1) that a kill drops this entry, rolled per entry. */
  chance: number;
  min: number;
  max: number;
}

/**
 * An attack: NPCs of a kind use their kind's ability; players use
 * Content.playerAbility for Attack; a hook can use any (ZoneApi.useAbility).
 * A field left out takes the zone's world.combat value (attackRange,
 * attackCooldownMs, npc/playerDamageBase and perLevel, damageVariance).
 */
export interface AbilityDef {
  range?: number;
  cooldownMs?: number;
  /** Damage of one hit at level 1. */
  damage?: number;
  /** Added per level above 1. */
  damagePerLevel?: number;
  /** +- fraction rolled per hit (0..1). */
  variance?: number;
}

export interface NpcKindDef {
  /** Display name of every member (EntityEnter.name), at most 64 characters. */
  name: string;
  levelMin: number;
  levelMax: number;
  /** Attacks the nearest player within this distance (0: never aggressive). */
  aggroRadius: number;
  /** Gives up a chase this far from its spawn point. */
  leashRadius: number;
  wanderRadius: number;
  /** Chase speed, units/s (wander at half, leash home at 1.5x). */
  speed: number;
  respawnDelayMs: number;
  /** Max HP at level 1 and per level above (default: world.combat npcHpBase / npcHpPerLevel). */
  hp?: number;
  hpPerLevel?: number;
  /** Key into Content.abilities (default: the zone's combat numbers). */
  ability?: string;
  /** Key into Content.lootTables (default: drops nothing). */
  loot?: string;
}

export interface SpawnAreaDef {
  /** Key into Content.npcs. */
  npc: string;
  /** How many, exactly... */
  count?: number;
  /** ...or this share (0..1] of zones.npcsPerZone (shares of one zone round so they sum to it). */
  share?: number;
  /** Where their spawn points are scattered (default: the whole zone). Must lie inside the zone. */
  area?: Rect;
  /** Only in these zone ids (default: every zone). */
  zones?: number[];
}

/** Hook names, in ContentStat order. */
export const HOOK_NAMES = ['onStart', 'onJoin', 'onInput', 'onTick', 'onDeath'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/**
 * Called on the zone worker's thread, synchronously, inside the World. The
 * ZoneApi `z` is one object per zone, reused for every call. Slots are
 * indices into the entity arrays, valid only during the call.
 */
export interface ContentHooks {
  /** Once, when the zone's World is built (fresh or restored from a checkpoint): resolve names to indices here. */
  onStart?(z: ZoneApi): void;
  /** A player entered this zone (login, handoff arrival, a re-add after a restart), after its first Snapshot. */
  onJoin?(z: ZoneApi, player: number): void;
  /**
   * A Custom input from the player: bytes[offset, offset + length) is its
   * payload, a view of the ring valid only during the call (copy what you
   * keep). Return false for a kind you do not handle: the client gets
   * Error(INVALID_INPUT).
   */
  onInput?(z: ZoneApi, player: number, kind: number, bytes: Uint8Array, offset: number, length: number): boolean | void;
  /** Every tick, after movement, NPCs and regeneration, before the tick's state is published. */
  onTick?(z: ZoneApi, nowMs: number): void;
  /** An entity (player or NPC) died; `killer` is the slot of whoever dealt the blow. After XP and loot. */
  onDeath?(z: ZoneApi, dead: number, killer: number): void;
}

export interface Content {
  /** Shown in logs. */
  name: string;
  items?: Record<string, ItemDef>;
  lootTables?: Record<string, LootDrop[]>;
  abilities?: Record<string, AbilityDef>;
  npcs?: Record<string, NpcKindDef>;
  spawns?: SpawnAreaDef[];
  /** Key into abilities: what a player's Attack does (default: the zone's combat numbers). */
  playerAbility?: string;
  hooks?: ContentHooks;
}

/** Where a zone worker finds its content's hooks, and the rules it runs them by (ZoneDef.content). */
export interface ZoneContentRef {
  /** file: URL of the content module; '' for content without hooks (nothing to import). */
  module: string;
  /** A hook call longer than this is counted and logged. */
  budgetMs: number;
  /** This many hook throws in a row crash the zone worker (its supervisor restarts it). */
  maxConsecutiveErrors: number;
}

/** The identity function, for type checking a content module written in TypeScript or JS with JSDoc. */
export function defineContent<T extends Content>(c: T): T {
  return c;
}

const HOOK_KEYS = new Set<string>(HOOK_NAMES);
const CONTENT_KEYS = new Set(['name', 'items', 'lootTables', 'abilities', 'npcs', 'spawns', 'playerAbility', 'hooks']);

/** Every problem with a content module's definitions ([] when none). Cold path. */
export function contentIssues(c: unknown): string[] {
  const issues: string[] = [];
  if (!c || typeof c !== 'object') return ['the module has no default export object (export default { name, npcs, ... })'];
  const o = c as Record<string, unknown> & Content;
  for (const k of Object.keys(o)) if (!CONTENT_KEYS.has(k)) issues.push(`unknown key ${k} (allowed: ${[...CONTENT_KEYS].join(', ')})`);
  if (typeof o.name !== 'string' || o.name.length === 0 || o.name.length > 64) issues.push('name must be a string of 1 to 64 characters');
  const int = (v: unknown, lo: number, hi: number, what: string): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) issues.push(`${what} = ${String(v)}: allowed an integer from ${lo} to ${hi}`);
  };
  const num = (v: unknown, lo: number, hi: number, what: string, openLo = false): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (openLo && v === lo)) issues.push(`${what} = ${String(v)}: allowed a number ${openLo ? 'above' : 'from'} ${lo} to ${hi}`);
  };
  const table = <T>(v: unknown, what: string): [string, T][] => {
    if (v === undefined) return [];
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      issues.push(`${what} must be an object keyed by name`);
      return [];
    }
    return Object.entries(v as Record<string, T>);
  };
  const items = table<ItemDef>(o.items, 'items');
  const ids = new Map<number, string>();
  for (const [k, it] of items) {
    if (!it || typeof it !== 'object') {
      issues.push(`items.${k} must be an object`);
      continue;
    }
    int(it.id, 1, 65535, `items.${k}.id`);
    if (ids.has(it.id)) issues.push(`items.${k}.id ${it.id} is also items.${ids.get(it.id)!}.id`);
    ids.set(it.id, k);
    if (typeof it.name !== 'string' || it.name.length > 64) issues.push(`items.${k}.name must be a string of at most 64 characters`);
  }
  const itemKeys = new Set(items.map(([k]) => k));
  const tables = table<LootDrop[]>(o.lootTables, 'lootTables');
  for (const [k, drops] of tables) {
    if (!Array.isArray(drops)) {
      issues.push(`lootTables.${k} must be a list`);
      continue;
    }
    drops.forEach((d, i) => {
      const w = `lootTables.${k}[${i}]`;
      if (!d || typeof d !== 'object') return void issues.push(`${w} must be an object`);
      if (!itemKeys.has(d.item)) issues.push(`${w}.item ${JSON.stringify(d.item)} is not in items`);
      num(d.chance, 0, 1, `${w}.chance`);
      int(d.min, 1, 65535, `${w}.min`);
      int(d.max, 1, 65535, `${w}.max`);
      if (d.max < d.min) issues.push(`${w}.max is below min`);
    });
  }
  const abilities = table<AbilityDef>(o.abilities, 'abilities');
  for (const [k, a] of abilities) {
    if (!a || typeof a !== 'object') {
      issues.push(`abilities.${k} must be an object`);
      continue;
    }
    if (a.range !== undefined) num(a.range, 0, 1000, `abilities.${k}.range`, true);
    if (a.cooldownMs !== undefined) num(a.cooldownMs, 0, 600_000, `abilities.${k}.cooldownMs`);
    if (a.damage !== undefined) num(a.damage, 0, 65535, `abilities.${k}.damage`);
    if (a.damagePerLevel !== undefined) num(a.damagePerLevel, 0, 65535, `abilities.${k}.damagePerLevel`);
    if (a.variance !== undefined) num(a.variance, 0, 1, `abilities.${k}.variance`);
  }
  const abilityKeys = new Set(abilities.map(([k]) => k));
  const lootKeys = new Set(tables.map(([k]) => k));
  const npcs = table<NpcKindDef>(o.npcs, 'npcs');
  if (npcs.length > 255) issues.push('at most 255 NPC kinds');
  for (const [k, n] of npcs) {
    const w = `npcs.${k}`;
    if (!n || typeof n !== 'object') {
      issues.push(`${w} must be an object`);
      continue;
    }
    if (typeof n.name !== 'string' || n.name.length > 64) issues.push(`${w}.name must be a string of at most 64 characters`);
    int(n.levelMin, 1, 255, `${w}.levelMin`);
    int(n.levelMax, 1, 255, `${w}.levelMax`);
    if (n.levelMax < n.levelMin) issues.push(`${w}.levelMax is below levelMin`);
    num(n.aggroRadius, 0, 4096, `${w}.aggroRadius`);
    num(n.leashRadius, 0, 4096, `${w}.leashRadius`, true);
    num(n.wanderRadius, 0, 4096, `${w}.wanderRadius`);
    num(n.speed, 0, 1000, `${w}.speed`, true);
    num(n.respawnDelayMs, 0, 3_600_000, `${w}.respawnDelayMs`);
    if (n.hp !== undefined) num(n.hp, 1, 65535, `${w}.hp`);
    if (n.hpPerLevel !== undefined) num(n.hpPerLevel, 0, 65535, `${w}.hpPerLevel`);
    if (n.ability !== undefined && !abilityKeys.has(n.ability)) issues.push(`${w}.ability ${JSON.stringify(n.ability)} is not in abilities`);
    if (n.loot !== undefined && !lootKeys.has(n.loot)) issues.push(`${w}.loot ${JSON.stringify(n.loot)} is not in lootTables`);
  }
  const npcKeys = new Set(npcs.map(([k]) => k));
  if (o.spawns !== undefined && !Array.isArray(o.spawns)) issues.push('spawns must be a list');
  else {
    (o.spawns ?? []).forEach((s, i) => {
      const w = `spawns[${i}]`;
      if (!s || typeof s !== 'object') return void issues.push(`${w} must be an object`);
      if (!npcKeys.has(s.npc)) issues.push(`${w}.npc ${JSON.stringify(s.npc)} is not in npcs`);
      if ((s.count === undefined) === (s.share === undefined)) issues.push(`${w} needs exactly one of count and share`);
      if (s.count !== undefined) int(s.count, 0, 65535, `${w}.count`);
      if (s.share !== undefined) num(s.share, 0, 1, `${w}.share`, true);
      if (s.area !== undefined) {
        const a = s.area;
        if (!a || typeof a !== 'object') issues.push(`${w}.area must be a rectangle {x, y, w, h}`);
        else {
          num(a.x, 0, 4096, `${w}.area.x`);
          num(a.y, 0, 4096, `${w}.area.y`);
          num(a.w, 0, 4096, `${w}.area.w`, true);
          num(a.h, 0, 4096, `${w}.area.h`, true);
        }
      }
      if (s.zones !== undefined) {
        if (!Array.isArray(s.zones)) issues.push(`${w}.zones must be a list of zone ids`);
        else s.zones.forEach((z, j) => int(z, 1, 65535, `${w}.zones[${j}]`));
      }
    });
  }
  if (o.playerAbility !== undefined && !abilityKeys.has(o.playerAbility)) issues.push(`playerAbility ${JSON.stringify(o.playerAbility)} is not in abilities`);
  if (o.hooks !== undefined) {
    if (!o.hooks || typeof o.hooks !== 'object') issues.push('hooks must be an object of functions');
    else {
      for (const [k, f] of Object.entries(o.hooks)) {
        if (!HOOK_KEYS.has(k)) issues.push(`hooks.${k} is not a hook (allowed: ${HOOK_NAMES.join(', ')})`);
        else if (typeof f !== 'function') issues.push(`hooks.${k} must be a function`);
      }
    }
  }
  return issues;
}

/** Throws WorldError(MMO_ERR_CONTENT) listing every problem. Cold path. */
export function validateContent(c: unknown, where = 'content'): asserts c is Content {
  const issues = contentIssues(c);
  if (issues.length > 0) throw new WorldError(WorldErrorCode.content, `invalid ${where}`, issues);
}

/**
 * Fills `def` from the content: def.npcs (one group per spawn entry that
 * applies to this zone, counts from `npcsPerZone` for shares), def.abilities,
 * def.npcKinds and def.playerAbility. `content` must have passed
 * validateContent. Cold path; allocates.
 */
export function applyContent(def: ZoneDef, content: Content, npcsPerZone: number): void {
  const items = content.items ?? {};
  const abilityKeys = Object.keys(content.abilities ?? {});
  const kindKeys = Object.keys(content.npcs ?? {});
  def.npcKinds = kindKeys;
  def.abilities = abilityKeys.map((k): AbilityParams => ({ name: k, ...content.abilities![k]! }));
  def.playerAbility = content.playerAbility === undefined ? undefined : abilityKeys.indexOf(content.playerAbility);
  const here = (content.spawns ?? []).filter((s) => s.zones === undefined || s.zones.includes(def.id));
  let cum = 0;
  def.npcs = here.map((s): NpcGroupDef => {
    const k = content.npcs![s.npc]!;
    let count = s.count ?? 0;
    if (s.share !== undefined) {
      const before = Math.round(cum * npcsPerZone);
      cum += s.share;
      count = Math.round(Math.min(1, cum) * npcsPerZone) - before;
    }
    const loot = k.loot === undefined ? [] : content.lootTables![k.loot]!;
    const g: NpcGroupDef = {
      name: k.name,
      count,
      levelMin: k.levelMin,
      levelMax: k.levelMax,
      aggroRadius: k.aggroRadius,
      leashRadius: k.leashRadius,
      wanderRadius: k.wanderRadius,
      speed: k.speed,
      respawnDelayMs: k.respawnDelayMs,
      loot: loot.map((d) => ({ item: items[d.item]!.id, chance: d.chance, min: d.min, max: d.max, name: items[d.item]!.name })),
      kind: kindKeys.indexOf(s.npc),
    };
    if (s.area) g.area = { ...s.area };
    if (k.hp !== undefined) g.hp = k.hp;
    if (k.hpPerLevel !== undefined) g.hpPerLevel = k.hpPerLevel;
    if (k.ability !== undefined) g.ability = abilityKeys.indexOf(k.ability);
    return g;
  });
}
