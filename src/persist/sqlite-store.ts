// The embedded store: one SQLite file through better-sqlite3, in WAL mode.
//
// SQLite allows one writer at a time; a second writing connection would only
// wait on the file lock. So exactly one thread owns the one connection: the
// single thread of the database pool (see persistence.ts), which runs every
// read and write in order. better-sqlite3 is synchronous, so each method runs
// to completion on that thread; the async signatures are the Store contract.
//
// `synchronous`: FULL fsyncs the WAL on every commit, so a committed
// transaction survives power loss; NORMAL survives a process crash (SIGKILL)
// but may lose the last commits on power loss. Write-through events promise
// durability, hence FULL by default.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { classify, PersistError, PersistErrorCode } from './errors.js';
import { checkMigrationList, MIGRATIONS, type Migration } from './migrations.js';
import { PLAYER_COLUMNS, accountFromRow, checkPlayers, playerFromRow, toBuf, type AccountRow, type PlayerRow } from './rows.js';
import {
  encodeInventory,
  type AccountRecord,
  type CreateAccountResult,
  type EventRecord,
  type EventWrite,
  type EventWriteResult,
  type MigrationReport,
  type NewAccount,
  type PlayerRecord,
  type SaveResult,
  type Store,
} from './types.js';

export type SqliteSynchronous = 'off' | 'normal' | 'full' | 'extra';

export interface SqliteStoreOptions {
  /** Database file; its directory is created if missing. ':memory:' for tests. */
  file: string;
  synchronous: SqliteSynchronous;
  /** How long a statement waits for a lock held by another process (a backup tool, sqlite3 CLI). */
  busyTimeoutMs?: number;
  /** Tests pass a longer list to exercise upgrades. */
  migrations?: readonly Migration[];
}

interface EventRow {
  id: string;
  player_id: number;
  kind: string;
  data: string;
  player_version: number;
  at: number;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly migrations: readonly Migration[];
  private stmts: Statements | null = null;

  constructor(opts: SqliteStoreOptions) {
    this.migrations = opts.migrations ?? MIGRATIONS;
    checkMigrationList(this.migrations);
    try {
      if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true });
      this.db = new Database(opts.file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous.toUpperCase()}`);
      this.db.pragma('foreign_keys = ON');
      this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    } catch (err) {
      throw classify(err);
    }
  }

  private get s(): Statements {
    if (!this.stmts) throw new PersistError(PersistErrorCode.schema, 'store used before migrate()');
    return this.stmts;
  }

  async migrate(): Promise<MigrationReport> {
    try {
      const db = this.db;
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      const applied: number[] = [];
      const known = this.migrations.length;
      const apply = db.transaction((m: Migration) => {
        // Re-read inside the write lock: another process may have migrated meanwhile.
        const cur = (db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
        if (cur >= m.version) return;
        db.exec(m.sqlite);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
        applied.push(m.version);
      });
      const current = (db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
      if (current > known) {
        throw new PersistError(
          PersistErrorCode.schema,
          `database schema is at version ${current} but this server knows only up to ${known}: it was written by a newer server`,
        );
      }
      for (const m of this.migrations) if (m.version > current) apply.immediate(m);
      this.stmts = prepareStatements(db);
      return { version: Math.max(current, ...applied), applied };
    } catch (err) {
      throw classify(err);
    }
  }

  async createAccount(a: NewAccount): Promise<CreateAccountResult> {
    const s = this.s;
    const run = this.db.transaction((): CreateAccountResult => {
      const { hash, salt, logN, r, p } = a.password;
      const acc = s.insertAccount.run(a.name, toBuf(hash), toBuf(salt), logN, r, p, a.createdAt);
      const accountId = Number(acc.lastInsertRowid);
      const pl = a.player;
      const inv = encodeInventory(pl.inventory);
      const ins = s.insertPlayer.run(accountId, a.name, pl.zone, pl.x, pl.y, pl.hp, pl.maxHp, pl.xp, pl.level, inv, 0, a.createdAt);
      return {
        ok: true,
        account: { id: accountId, name: a.name, password: a.password, createdAt: a.createdAt },
        player: { ...pl, inventory: pl.inventory.map((i) => ({ ...i })), id: Number(ins.lastInsertRowid), accountId, name: a.name, version: 0, updatedAt: a.createdAt },
      };
    });
    try {
      return run.immediate();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return { ok: false, reason: 'name_taken' };
      throw classify(err);
    }
  }

  async findAccountByName(name: string): Promise<AccountRecord | null> {
    try {
      const row = this.s.accountByName.get(name);
      return row ? accountFromRow(row) : null;
    } catch (err) {
      throw classify(err);
    }
  }

  async loadPlayer(playerId: number): Promise<PlayerRecord | null> {
    try {
      const row = this.s.playerById.get(playerId);
      return row ? playerFromRow(row) : null;
    } catch (err) {
      throw classify(err);
    }
  }

  async loadPlayersOfAccount(accountId: number): Promise<PlayerRecord[]> {
    try {
      return this.s.playersByAccount.all(accountId).map(playerFromRow);
    } catch (err) {
      throw classify(err);
    }
  }

  async savePlayers(players: PlayerRecord[]): Promise<SaveResult> {
    checkPlayers(players);
    const s = this.s;
    const run = this.db.transaction((): SaveResult => {
      let written = 0;
      const skipped: number[] = [];
      for (let i = 0; i < players.length; i++) {
        const p = players[i]!;
        if (updatePlayer(s.updatePlayer, p)) written++;
        else skipped.push(p.id);
      }
      return { written, skipped };
    });
    try {
      return run.immediate();
    } catch (err) {
      throw classify(err);
    }
  }

  async writeEvents(writes: EventWrite[]): Promise<EventWriteResult> {
    checkPlayers(writes.map((w) => w.player));
    const s = this.s;
    const run = this.db.transaction((): EventWriteResult => {
      const inserted: boolean[] = [];
      let written = 0;
      const skipped: number[] = [];
      for (const { event: e, player: p } of writes) {
        inserted.push(s.insertEvent.run(e.id, e.playerId, e.kind, JSON.stringify(e.data), p.version, e.at).changes === 1);
        if (updatePlayer(s.updatePlayer, p)) written++;
        else skipped.push(p.id);
      }
      return { inserted, players: { written, skipped } };
    });
    try {
      return run.immediate();
    } catch (err) {
      throw classify(err);
    }
  }

  async findEvents(ids: string[]): Promise<EventRecord[]> {
    try {
      return this.s.findEvents.all(JSON.stringify(ids)).map((r) => ({
        id: r.id,
        playerId: r.player_id,
        kind: r.kind as EventRecord['kind'],
        data: JSON.parse(r.data) as EventRecord['data'],
        playerVersion: r.player_version,
        at: r.at,
      }));
    } catch (err) {
      throw classify(err);
    }
  }

  async ping(): Promise<void> {
    try {
      this.db.prepare('SELECT 1').get();
    } catch (err) {
      throw classify(err);
    }
  }

  async integrityCheck(): Promise<string> {
    try {
      const rows = this.db.pragma('integrity_check') as Array<{ integrity_check: string }>;
      return rows.map((r) => r.integrity_check).join('; ');
    } catch (err) {
      throw classify(err);
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Statements are prepared after migrate(): they name tables that exist only then. */
function prepareStatements(db: Database.Database) {
  return {
    insertAccount: db.prepare<[string, Buffer, Buffer, number, number, number, number]>(
      'INSERT INTO accounts (name, pw_hash, pw_salt, scrypt_logn, scrypt_r, scrypt_p, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    insertPlayer: db.prepare<[number, string, number, number, number, number, number, number, number, string, number, number]>(
      'INSERT INTO players (account_id, name, zone, x, y, hp, max_hp, xp, level, inventory, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    accountByName: db.prepare<[string], AccountRow>('SELECT * FROM accounts WHERE lower(name) = lower(?)'),
    playerById: db.prepare<[number], PlayerRow>(`SELECT ${PLAYER_COLUMNS} FROM players WHERE id = ?`),
    playersByAccount: db.prepare<[number], PlayerRow>(`SELECT ${PLAYER_COLUMNS} FROM players WHERE account_id = ? ORDER BY id`),
    updatePlayer: db.prepare<[number, number, number, number, number, number, number, string, number, number, number, number]>(
      'UPDATE players SET zone = ?, x = ?, y = ?, hp = ?, max_hp = ?, xp = ?, level = ?, inventory = ?, version = ?, updated_at = ? WHERE id = ? AND version < ?',
    ),
    insertEvent: db.prepare<[string, number, string, string, number, number]>(
      'INSERT INTO player_events (id, player_id, kind, data, player_version, at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
    ),
    findEvents: db.prepare<[string], EventRow>('SELECT * FROM player_events WHERE id IN (SELECT value FROM json_each(?))'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

function updatePlayer(stmt: Database.Statement<[number, number, number, number, number, number, number, string, number, number, number, number]>, p: PlayerRecord): boolean {
  return stmt.run(p.zone, p.x, p.y, p.hp, p.maxHp, p.xp, p.level, encodeInventory(p.inventory), p.version, p.updatedAt, p.id, p.version).changes === 1;
}

