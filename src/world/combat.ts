// Combat numbers compiled from CombatParams: the level curve as a table,
// max HP and damage by level. Pure functions of the parameters (and of the
// world's PRNG for damage variance).

import type { AbilityParams, CombatParams } from './zone-def.js';
import type { Rng } from './rng.js';
import { Kind } from './entity-store.js';

export class CombatRules {
  readonly p: Readonly<CombatParams>;
  /** xpForLevel[L]: total XP needed to be level L (index 0 unused, [1] = 0). */
  readonly xpForLevel: Uint32Array;
  readonly maxLevel: number;
  /**
   * Abilities compiled with the zone's combat numbers filled in, indexed by
   * ability; index `abilities.length` (BASIC) is the plain combat numbers.
   * Damage and per-level by user: [2 * ab] as used by an NPC, [2 * ab + 1] by a player.
   */
  readonly abRange: Float64Array;
  readonly abCooldownMs: Float64Array;
  readonly abDamage: Float64Array;
  readonly abPerLevel: Float64Array;
  readonly abVariance: Float64Array;
  /** The ability index meaning "the zone's combat numbers". */
  readonly basic: number;

  /** Cold path. */
  constructor(p: CombatParams, abilities: readonly AbilityParams[] = []) {
    this.p = { ...p };
    this.maxLevel = p.maxLevel;
    const n = abilities.length + 1;
    this.basic = abilities.length;
    this.abRange = new Float64Array(n);
    this.abCooldownMs = new Float64Array(n);
    this.abDamage = new Float64Array(2 * n);
    this.abPerLevel = new Float64Array(2 * n);
    this.abVariance = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const a: Partial<AbilityParams> = abilities[i] ?? {};
      this.abRange[i] = a.range ?? p.attackRange;
      this.abCooldownMs[i] = a.cooldownMs ?? p.attackCooldownMs;
      this.abDamage[2 * i] = a.damage ?? p.npcDamageBase;
      this.abDamage[2 * i + 1] = a.damage ?? p.playerDamageBase;
      this.abPerLevel[2 * i] = a.damagePerLevel ?? p.npcDamagePerLevel;
      this.abPerLevel[2 * i + 1] = a.damagePerLevel ?? p.playerDamagePerLevel;
      this.abVariance[i] = a.variance ?? p.damageVariance;
    }
    this.xpForLevel = new Uint32Array(p.maxLevel + 1);
    for (let l = 2; l <= p.maxLevel; l++) {
      // Strictly increasing even when the curve rounds flat.
      const v = Math.round(p.levelXpBase * Math.pow(l - 1, p.levelXpExponent));
      this.xpForLevel[l] = Math.min(0xffffffff, Math.max(v, this.xpForLevel[l - 1]! + 1));
    }
  }

  /** The level a total XP amounts to (1..maxLevel). */
  levelForXp(xp: number): number {
    let l = 1;
    while (l < this.maxLevel && xp >= this.xpForLevel[l + 1]!) l++;
    return l;
  }

  maxHpFor(kind: number, level: number): number {
    const base = kind === Kind.player ? this.p.playerHpBase + this.p.playerHpPerLevel * (level - 1) : this.p.npcHpBase + this.p.npcHpPerLevel * (level - 1);
    return Math.min(65535, Math.max(1, Math.round(base)));
  }

  /** One hit's damage by an attacker of this kind and level, with +-variance from the world's PRNG. At least 1. */
  damage(kind: number, level: number, rng: Rng): number {
    const base = kind === Kind.player ? this.p.playerDamageBase + this.p.playerDamagePerLevel * (level - 1) : this.p.npcDamageBase + this.p.npcDamagePerLevel * (level - 1);
    const v = this.p.damageVariance;
    // An integer draw (not rng.float()): see scratch.ts.
    const d = Math.round(base * (1 - v + (2 * v * rng.below(1 << 20)) / (1 << 20)));
    return d < 1 ? 1 : d > 65535 ? 65535 : d;
  }

  /** Max HP of an NPC of a group with its own hp numbers (hp undefined: maxHpFor). Cold path. */
  npcMaxHp(level: number, hp: number | undefined, perLevel: number | undefined): number {
    if (hp === undefined) return this.maxHpFor(Kind.npc, level);
    return Math.min(65535, Math.max(1, Math.round(hp + (perLevel ?? this.p.npcHpPerLevel) * (level - 1))));
  }

  /**
   * One hit of ability `ab` by an attacker of this kind and level: the same
   * formula as damage(), with the ability's numbers. At least 1.
   */
  hit(ab: number, kind: number, level: number, rng: Rng): number {
    const u = 2 * ab + (kind === Kind.player ? 1 : 0);
    const base = this.abDamage[u]! + this.abPerLevel[u]! * (level - 1);
    const v = this.abVariance[ab]!;
    const d = Math.round(base * (1 - v + (2 * v * rng.below(1 << 20)) / (1 << 20)));
    return d < 1 ? 1 : d > 65535 ? 65535 : d;
  }

  /** XP for killing an NPC of this level. */
  killXp(npcLevel: number): number {
    return Math.round(this.p.xpPerKillBase + this.p.xpPerKillPerLevel * npcLevel);
  }
}
