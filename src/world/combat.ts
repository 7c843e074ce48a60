// Combat numbers compiled from CombatParams: the level curve as a table,
// max HP and damage by level. Pure functions of the parameters (and of the
// world's PRNG for damage variance).

import type { CombatParams } from './zone-def.js';
import type { Rng } from './rng.js';
import { Kind } from './entity-store.js';

export class CombatRules {
  readonly p: Readonly<CombatParams>;
  /** xpForLevel[L]: total XP needed to be level L (index 0 unused, [1] = 0). */
  readonly xpForLevel: Uint32Array;
  readonly maxLevel: number;

  /** Cold path. */
  constructor(p: CombatParams) {
    this.p = { ...p };
    this.maxLevel = p.maxLevel;
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

  /** XP for killing an NPC of this level. */
  killXp(npcLevel: number): number {
    return Math.round(this.p.xpPerKillBase + this.p.xpPerKillPerLevel * npcLevel);
  }
}
