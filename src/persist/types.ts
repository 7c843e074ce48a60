// What the persistence layer stores, and the Store interface both databases
// implement. Records are plain objects of numbers and strings so they cross
// the piscina boundary by structured clone unchanged (cold path: logins and
// batched saves, never per packet).
//
// Ranges follow the wire protocol (src/protocol/mmo.fbs): zone uint16, hp
// uint16, level ubyte, xp uint32, inventory items and counts uint16.

/** One inventory slot. */
export interface InventoryItem {
  item: number;
  count: number;
}

/** Most slots a player's inventory may hold; a bigger one is refused at the store boundary. */
export const MAX_INVENTORY_SLOTS = 64;

/** Player ids at or above this are guests: never written to the database (see isGuestPlayerId). */
export const GUEST_ID_BASE = 0x8000_0000;

export function isGuestPlayerId(id: number): boolean {
  return id >= GUEST_ID_BASE;
}

export interface AccountRecord {
  id: number;
  /** As registered (case kept); unique without regard to case. */
  name: string;
  password: PasswordHash;
  /** ms since the Unix epoch. */
  createdAt: number;
}

/** An scrypt hash with everything needed to verify it later, so parameters can change without breaking old accounts. */
export interface PasswordHash {
  hash: Uint8Array;
  salt: Uint8Array;
  /** scrypt cost: N = 2^logN. */
  logN: number;
  r: number;
  p: number;
}

/** The state of a character that survives a restart. */
export interface PlayerState {
  zone: number;
  x: number;
  y: number;
  hp: number;
  maxHp: number;
  xp: number;
  level: number;
  inventory: InventoryItem[];
}

export interface PlayerRecord extends PlayerState {
  id: number;
  accountId: number;
  name: string;
  /**
   * Monotonic per player. A write carries the version it was taken at and
   * the store applies it only over an older one, so a late retry of an old
   * snapshot can never overwrite a newer state.
   */
  version: number;
  /** ms since the Unix epoch of the write that produced this row. */
  updatedAt: number;
}

export const EventKind = {
  levelUp: 'level_up',
  itemGained: 'item_gained',
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** A write-through event: durable, with the player's state, before the client is told. */
export interface PlayerEvent {
  /** Idempotency key: writing the same id twice stores it once. */
  id: string;
  playerId: number;
  kind: EventKind;
  /** Small JSON-able details, e.g. { level: 5 } or { item: 12, count: 1, total: 3 }. */
  data: Record<string, number | string | boolean>;
  /** ms since the Unix epoch. */
  at: number;
}

export interface EventRecord extends PlayerEvent {
  /** The player version written in the same transaction. */
  playerVersion: number;
}

export interface NewAccount {
  name: string;
  password: PasswordHash;
  createdAt: number;
  /** The account's character, created in the same transaction (same name). */
  player: PlayerState;
}

export type CreateAccountResult =
  | { ok: true; account: AccountRecord; player: PlayerRecord }
  | { ok: false; reason: 'name_taken' };

/** Outcome of a batch of player writes. */
export interface SaveResult {
  /** Rows that took the new state. */
  written: number;
  /** Ids whose stored version was already at or past the one offered (or which do not exist). */
  skipped: number[];
}

export interface EventWrite {
  event: PlayerEvent;
  player: PlayerRecord;
}

export interface EventWriteResult {
  /** Per input, in order: false when an event with that id was already stored. */
  inserted: boolean[];
  players: SaveResult;
}

export interface MigrationReport {
  /** Schema version after start-up. */
  version: number;
  /** Versions applied by this call, oldest first; empty when already current. */
  applied: number[];
}

/**
 * A database. Implemented by SqliteStore and PgStore, which run on the
 * database thread, and by PooledStore, which forwards every call there from
 * the gateway. Every method is one transaction. Methods throw PersistError
 * (code MMO_ERR_PERSIST_*) when the database fails; they never half-apply.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies the migrations this code knows that the database lacks. Idempotent. */
  migrate(): Promise<MigrationReport>;
  createAccount(account: NewAccount): Promise<CreateAccountResult>;
  /** Case-insensitive. */
  findAccountByName(name: string): Promise<AccountRecord | null>;
  loadPlayer(playerId: number): Promise<PlayerRecord | null>;
  loadPlayersOfAccount(accountId: number): Promise<PlayerRecord[]>;
  /** All in one transaction; each row only over an older version. */
  savePlayers(players: PlayerRecord[]): Promise<SaveResult>;
  /** Events and their players' new states in one transaction; events are idempotent by id. */
  writeEvents(writes: EventWrite[]): Promise<EventWriteResult>;
  /** The stored events among these ids (the crash checker asks for every acknowledged id). */
  findEvents(ids: string[]): Promise<EventRecord[]>;
  /** Cheap round trip: is the database reachable? Throws when not. */
  ping(): Promise<void>;
  /** Structural check of the database file (SQLite integrity_check); 'ok' when sound. */
  integrityCheck(): Promise<string>;
  close(): Promise<void>;
}

const U16 = 0xffff;
const U32 = 0xffff_ffff;

/** Why a player record may not be stored, or null when it may. Cold path. */
export function playerProblem(p: PlayerRecord): string | null {
  if (!Number.isInteger(p.id) || p.id <= 0 || isGuestPlayerId(p.id)) return `id ${p.id} is not a stored player id`;
  if (!Number.isSafeInteger(p.version) || p.version < 0) return `version ${p.version} is not a non-negative integer`;
  if (!intIn(p.zone, 0, U16)) return `zone ${p.zone} is not a uint16`;
  if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) return `position (${p.x}, ${p.y}) is not finite`;
  if (!intIn(p.maxHp, 1, U16)) return `maxHp ${p.maxHp} is not 1..65535`;
  if (!intIn(p.hp, 0, p.maxHp)) return `hp ${p.hp} is not 0..maxHp`;
  if (!intIn(p.xp, 0, U32)) return `xp ${p.xp} is not a uint32`;
  if (!intIn(p.level, 1, 255)) return `level ${p.level} is not 1..255`;
  if (!Array.isArray(p.inventory) || p.inventory.length > MAX_INVENTORY_SLOTS) return `inventory is not a list of at most ${MAX_INVENTORY_SLOTS} slots`;
  for (const it of p.inventory) {
    if (!intIn(it.item, 0, U16) || !intIn(it.count, 1, U16)) return `inventory slot ${JSON.stringify(it)} is not { item: uint16, count: 1..65535 }`;
  }
  return null;
}

function intIn(v: number, lo: number, hi: number): boolean {
  return Number.isInteger(v) && v >= lo && v <= hi;
}

/** Inventory as stored (JSON text): a compact [[item, count], ...]. */
export function encodeInventory(inv: readonly InventoryItem[]): string {
  return JSON.stringify(inv.map((i) => [i.item, i.count]));
}

export function decodeInventory(raw: unknown): InventoryItem[] {
  const v = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  if (!Array.isArray(v)) throw new TypeError('inventory is not a list');
  return v.map((slot: unknown) => {
    if (!Array.isArray(slot) || slot.length !== 2) throw new TypeError('inventory slot is not [item, count]');
    return { item: Number(slot[0]), count: Number(slot[1]) };
  });
}
