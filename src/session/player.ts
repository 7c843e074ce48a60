// Conversions between the database's player record and the world's binary
// player state (the form that crosses the rings). Cold path: login, save
// interval, write-through, logout.

import {
  INVENTORY_SLOTS,
  PLAYER_STATE_MAX_BYTES,
  encodePlayerState,
  decodePlayerState,
  newPlayerState,
  type PlayerState as WorldPlayerState,
} from '../world/index.js';
import type { InventoryItem, PlayerRecord } from '../persist/types.js';
import type { PlayerSnapshot } from '../persist/write-queue.js';

/** Zone id of a character that has never entered the world (new accounts): placed in the first zone, at a spawn point. */
export const NO_ZONE = 0;

/** Encodes a database record as the world's player state into `out`; returns the length, or -1. */
export function encodeRecord(r: PlayerRecord, out: Uint8Array, atSpawn: boolean): number {
  const s = newPlayerState(r.name);
  s.level = r.level;
  s.xp = r.xp;
  s.hp = r.hp;
  s.maxHp = r.maxHp;
  s.x = atSpawn ? Number.NaN : r.x;
  s.y = atSpawn ? Number.NaN : r.y;
  fillInventory(s, r.inventory);
  return encodePlayerState(s, out, 0);
}

/** The snapshot the persistence layer saves, from a world state written at `bytes[offset..]`. */
export function snapshotOf(bytes: Uint8Array, offset: number, playerId: number, accountId: number, zone: number): PlayerSnapshot | null {
  const s = newPlayerState('');
  if (decodePlayerState(bytes, offset, s) < 0) return null;
  return toSnapshot(s, playerId, accountId, zone);
}

export function toSnapshot(s: WorldPlayerState, playerId: number, accountId: number, zone: number): PlayerSnapshot {
  const inventory: InventoryItem[] = [];
  for (let i = 0; i < INVENTORY_SLOTS; i++) {
    const item = s.inventory[2 * i]!;
    if (item !== 0) inventory.push({ item, count: s.inventory[2 * i + 1]! });
  }
  return {
    id: playerId,
    accountId,
    name: s.name,
    zone,
    x: Number.isFinite(s.x) ? s.x : 0,
    y: Number.isFinite(s.y) ? s.y : 0,
    hp: s.hp,
    maxHp: s.maxHp,
    xp: s.xp,
    level: s.level,
    inventory,
  };
}

function fillInventory(s: WorldPlayerState, items: readonly InventoryItem[]): void {
  let slot = 0;
  for (const it of items) {
    if (slot >= INVENTORY_SLOTS) break;
    if (it.item <= 0 || it.count <= 0) continue;
    s.inventory[2 * slot] = it.item;
    s.inventory[2 * slot + 1] = Math.min(0xffff, it.count);
    slot++;
  }
}

export { PLAYER_STATE_MAX_BYTES };
