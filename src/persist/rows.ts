// The players and accounts tables as both stores read them: the same columns
// in SQLite and PostgreSQL (see migrations.ts), mapped to records one way.
// Only the inventory column's type differs (TEXT of JSON in SQLite, jsonb in
// PostgreSQL); decodeInventory takes either.

import { PersistError, PersistErrorCode } from './errors.js';
import { decodeInventory, playerProblem, type AccountRecord, type PlayerRecord } from './types.js';

export const PLAYER_COLUMNS = 'id, account_id, name, zone, x, y, hp, max_hp, xp, level, inventory, version, updated_at';

export interface PlayerRow {
  id: number;
  account_id: number;
  name: string;
  zone: number;
  x: number;
  y: number;
  hp: number;
  max_hp: number;
  xp: number;
  level: number;
  inventory: unknown;
  version: number;
  updated_at: number;
}

export interface AccountRow {
  id: number;
  name: string;
  pw_hash: Buffer;
  pw_salt: Buffer;
  scrypt_logn: number;
  scrypt_r: number;
  scrypt_p: number;
  created_at: number;
}

export function playerFromRow(r: PlayerRow): PlayerRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    zone: r.zone,
    x: r.x,
    y: r.y,
    hp: r.hp,
    maxHp: r.max_hp,
    xp: r.xp,
    level: r.level,
    inventory: decodeInventory(r.inventory),
    version: r.version,
    updatedAt: r.updated_at,
  };
}

export function accountFromRow(r: AccountRow): AccountRecord {
  return {
    id: r.id,
    name: r.name,
    password: { hash: new Uint8Array(r.pw_hash), salt: new Uint8Array(r.pw_salt), logN: r.scrypt_logn, r: r.scrypt_r, p: r.scrypt_p },
    createdAt: r.created_at,
  };
}

/** Throws PersistError(invalid) naming the first player record that may not be stored. */
export function checkPlayers(players: readonly PlayerRecord[]): void {
  for (const p of players) {
    const problem = playerProblem(p);
    if (problem) throw new PersistError(PersistErrorCode.invalid, `player ${p.id}: ${problem}`);
  }
}

/** A Buffer over the same bytes (no copy), for the drivers' binary parameters. */
export function toBuf(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
