// The server store: PostgreSQL through `pg`, used when persist.postgresUrl is
// set. It runs on the database pool's one thread like SqliteStore, but is
// asynchronous: several calls may be in flight at once, each on its own
// pooled connection (persist.postgresPoolSize).
//
// A batch of player saves is one UPDATE ... FROM unnest(arrays) statement: one
// round trip for any number of rows, instead of one per row.

import pg from 'pg';
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

export interface PgStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  poolSize: number;
  /** Give up on opening a connection after this long (database down or unreachable). */
  connectTimeoutMs: number;
  /** Server-side statement_timeout and client-side query deadline: a hung database fails the call instead of stalling the queue. */
  statementTimeoutMs: number;
  migrations?: readonly Migration[];
}

/** Serializes concurrent migrations (two servers starting at once): an arbitrary constant. */
const MIGRATION_LOCK = 0x6d6d6f31; // "mmo1"

// int8 columns (version, times, xp) as JS numbers: every value we store is below 2^53.
const types = new pg.TypeOverrides();
types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export class PgStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly migrations: readonly Migration[];
  private migrated = false;

  constructor(opts: PgStoreOptions) {
    this.migrations = opts.migrations ?? MIGRATIONS;
    checkMigrationList(this.migrations);
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      statement_timeout: opts.statementTimeoutMs,
      query_timeout: opts.statementTimeoutMs + 1000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'mmo-server',
      types,
    });
    // An idle connection that dies (server restart) is reported here; without a
    // listener it would crash the thread. The next query reconnects or fails
    // with the cause, which is where it is handled.
    this.pool.on('error', () => {});
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw classify(err);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection itself is gone: drop it from the pool.
        broken = rollbackErr as Error;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  private async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      throw classify(err);
    }
  }

  private ready(): void {
    if (!this.migrated) throw new PersistError(PersistErrorCode.schema, 'store used before migrate()');
  }

  async migrate(): Promise<MigrationReport> {
    const known = this.migrations.length;
    const applied: number[] = [];
    let current = 0;
    try {
      await this.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
      for (const m of this.migrations) {
        const did = await this.tx(async (c) => {
          await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
          const cur = Number((await c.query<{ v: number }>('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')).rows[0]!.v);
          current = Math.max(current, cur);
          if (cur > known) {
            throw new PersistError(
              PersistErrorCode.schema,
              `database schema is at version ${cur} but this server knows only up to ${known}: it was written by a newer server`,
            );
          }
          if (cur >= m.version) return false;
          await c.query(m.postgres);
          await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          return true;
        });
        if (did) applied.push(m.version);
      }
    } catch (err) {
      throw classify(err);
    }
    this.migrated = true;
    return { version: Math.max(current, ...applied), applied };
  }

  async createAccount(a: NewAccount): Promise<CreateAccountResult> {
    this.ready();
    try {
      return await this.tx(async (c): Promise<CreateAccountResult> => {
        const { hash, salt, logN, r, p } = a.password;
        const acc = await c.query<{ id: number }>(
          'INSERT INTO accounts (name, pw_hash, pw_salt, scrypt_logn, scrypt_r, scrypt_p, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
          [a.name, toBuf(hash), toBuf(salt), logN, r, p, a.createdAt],
        );
        const accountId = acc.rows[0]!.id;
        const pl = a.player;
        const ins = await c.query<{ id: number }>(
          'INSERT INTO players (account_id, name, zone, x, y, hp, max_hp, xp, level, inventory, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11) RETURNING id',
          [accountId, a.name, pl.zone, pl.x, pl.y, pl.hp, pl.maxHp, pl.xp, pl.level, encodeInventory(pl.inventory), a.createdAt],
        );
        return {
          ok: true,
          account: { id: accountId, name: a.name, password: a.password, createdAt: a.createdAt },
          player: { ...pl, inventory: pl.inventory.map((i) => ({ ...i })), id: ins.rows[0]!.id, accountId, name: a.name, version: 0, updatedAt: a.createdAt },
        };
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') return { ok: false, reason: 'name_taken' };
      throw classify(err);
    }
  }

  async findAccountByName(name: string): Promise<AccountRecord | null> {
    this.ready();
    const rows = await this.query<AccountRow>('SELECT * FROM accounts WHERE lower(name) = lower($1)', [name]);
    return rows[0] ? accountFromRow(rows[0]) : null;
  }

  async loadPlayer(playerId: number): Promise<PlayerRecord | null> {
    this.ready();
    const rows = await this.query<PlayerRow>(`SELECT ${PLAYER_COLUMNS} FROM players WHERE id = $1`, [playerId]);
    return rows[0] ? playerFromRow(rows[0]) : null;
  }

  async loadPlayersOfAccount(accountId: number): Promise<PlayerRecord[]> {
    this.ready();
    return (await this.query<PlayerRow>(`SELECT ${PLAYER_COLUMNS} FROM players WHERE account_id = $1 ORDER BY id`, [accountId])).map(playerFromRow);
  }

  async savePlayers(players: PlayerRecord[]): Promise<SaveResult> {
    this.ready();
    checkPlayers(players);
    try {
      return await this.tx((c) => updatePlayers(c, players));
    } catch (err) {
      throw classify(err);
    }
  }

  async writeEvents(writes: EventWrite[]): Promise<EventWriteResult> {
    this.ready();
    checkPlayers(writes.map((w) => w.player));
    try {
      return await this.tx(async (c) => {
        const ev = writes.map((w) => w.event);
        const res = await c.query<{ id: string }>(
          `INSERT INTO player_events (id, player_id, kind, data, player_version, at)
           SELECT id, player_id, kind, data::jsonb, player_version, at
           FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int8[], $6::int8[]) AS u(id, player_id, kind, data, player_version, at)
           ON CONFLICT (id) DO NOTHING RETURNING id`,
          [ev.map((e) => e.id), ev.map((e) => e.playerId), ev.map((e) => e.kind), ev.map((e) => JSON.stringify(e.data)), writes.map((w) => w.player.version), ev.map((e) => e.at)],
        );
        const fresh = new Set(res.rows.map((r) => r.id));
        const inserted = ev.map((e) => fresh.delete(e.id));
        return { inserted, players: await updatePlayers(c, writes.map((w) => w.player)) };
      });
    } catch (err) {
      throw classify(err);
    }
  }

  async findEvents(ids: string[]): Promise<EventRecord[]> {
    this.ready();
    const rows = await this.query<{ id: string; player_id: number; kind: string; data: EventRecord['data']; player_version: number; at: number }>(
      'SELECT * FROM player_events WHERE id = ANY($1::text[])',
      [ids],
    );
    return rows.map((r) => ({ id: r.id, playerId: r.player_id, kind: r.kind as EventRecord['kind'], data: r.data, playerVersion: r.player_version, at: r.at }));
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async integrityCheck(): Promise<string> {
    // PostgreSQL checks its own pages (and WAL replay) itself; a reachable server is a consistent one.
    await this.ping();
    return 'ok';
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** One statement for the whole batch; a row takes a state only over an older version. */
async function updatePlayers(c: pg.PoolClient, players: readonly PlayerRecord[]): Promise<SaveResult> {
  // UPDATE ... FROM applies at most one source row per target row, and which
  // one is unspecified: keep only the newest record of each player.
  const latest = new Map<number, PlayerRecord>();
  for (const p of players) {
    const had = latest.get(p.id);
    if (!had || had.version < p.version) latest.set(p.id, p);
  }
  const ps = [...latest.values()];
  const res = await c.query<{ id: number }>(
    `UPDATE players AS p SET zone = u.zone, x = u.x, y = u.y, hp = u.hp, max_hp = u.max_hp, xp = u.xp, level = u.level,
       inventory = u.inventory::jsonb, version = u.version, updated_at = u.updated_at
     FROM unnest($1::int[], $2::int[], $3::float8[], $4::float8[], $5::int[], $6::int[], $7::int8[], $8::int[], $9::text[], $10::int8[], $11::int8[])
       AS u(id, zone, x, y, hp, max_hp, xp, level, inventory, version, updated_at)
     WHERE p.id = u.id AND p.version < u.version
     RETURNING p.id`,
    [
      ps.map((p) => p.id),
      ps.map((p) => p.zone),
      ps.map((p) => p.x),
      ps.map((p) => p.y),
      ps.map((p) => p.hp),
      ps.map((p) => p.maxHp),
      ps.map((p) => p.xp),
      ps.map((p) => p.level),
      ps.map((p) => encodeInventory(p.inventory)),
      ps.map((p) => p.version),
      ps.map((p) => p.updatedAt),
    ],
  );
  const done = new Set(res.rows.map((r) => r.id));
  const skipped: number[] = [];
  for (const p of players) if (!done.has(p.id) || latest.get(p.id) !== p) skipped.push(p.id);
  return { written: done.size, skipped };
}

