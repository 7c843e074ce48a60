// The reference game, written against the content API (src/world/content.ts)
// like any studio's game: what the server runs when world.content is ''.
// Wolves and bears in every zone, pelts, claws and coins. No hooks: the
// rules it needs (melee, aggro, leash, loot, XP) are the engine's own.
//
// Its abilities leave range, cooldown and damage to the zone's combat
// numbers (world.combat.*), so those config keys keep tuning the reference
// game; a studio's content sets its own (docs/content.md).

import type { Content } from '../world/content.js';

export const REFERENCE_CONTENT = {
  name: 'reference',
  items: {
    wolfPelt: { id: 1, name: 'Wolf Pelt' },
    copper: { id: 2, name: 'Copper Coins' },
    bearClaw: { id: 3, name: 'Bear Claw' },
  },
  lootTables: {
    wolf: [
      { item: 'wolfPelt', chance: 0.5, min: 1, max: 2 },
      { item: 'copper', chance: 0.25, min: 1, max: 5 },
    ],
    bear: [
      { item: 'bearClaw', chance: 0.6, min: 1, max: 1 },
      { item: 'copper', chance: 0.5, min: 3, max: 12 },
    ],
  },
  abilities: {
    /** Every creature's and every player's plain hit: the zone's combat numbers. */
    melee: {},
  },
  playerAbility: 'melee',
  npcs: {
    wolf: { name: 'Wolf', levelMin: 1, levelMax: 4, aggroRadius: 10, leashRadius: 40, wanderRadius: 16, speed: 7, respawnDelayMs: 15_000, ability: 'melee', loot: 'wolf' },
    bear: { name: 'Bear', levelMin: 4, levelMax: 10, aggroRadius: 14, leashRadius: 56, wanderRadius: 24, speed: 6, respawnDelayMs: 30_000, ability: 'melee', loot: 'bear' },
  },
  // Three quarters of zones.npcsPerZone are wolves, the rest bears, anywhere in the zone.
  spawns: [
    { npc: 'wolf', share: 0.75 },
    { npc: 'bear', share: 0.25 },
  ],
} satisfies Content;
