// The contract every Store passes: SqliteStore and PgStore in-process, and
// both again through PooledStore on the database thread. One suite, so the
// two databases cannot drift apart in behaviour.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from '../../src/persist/migrations.js';
import { PersistError } from '../../src/persist/errors.js';
import type { NewAccount, PlayerRecord, PlayerState, Store, EventWrite } from '../../src/persist/types.js';

export interface StoreFixture {
  /** Opens a store on this fixture's database (a new connection each call; not yet migrated). */
  open(migrations?: readonly Migration[]): Store;
  /** Closes stores opened here and drops the database. */
  cleanup(): Promise<void>;
  /** PooledStore opens and migrates on its first call of any kind (the database thread does it). */
  migratesOnFirstCall?: boolean;
}

/** Makes a fresh, empty database. */
export type FixtureFactory = () => Promise<StoreFixture>;

export const SPAWN: PlayerState = { zone: 1, x: 100.5, y: 200.25, hp: 50, maxHp: 50, xp: 0, level: 1, inventory: [] };

export function newAccount(name: string, at = 1_700_000_000_000): NewAccount {
  return {
    name,
    password: { hash: new Uint8Array(randomBytes(32)), salt: new Uint8Array(randomBytes(16)), logN: 10, r: 8, p: 1 },
    createdAt: at,
    player: SPAWN,
  };
}

const EXTRA: Migration = {
  version: SCHEMA_VERSION + 1,
  name: 'test: guilds',
  sqlite: 'CREATE TABLE guilds (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  postgres: 'CREATE TABLE guilds (id integer PRIMARY KEY, name text NOT NULL)',
};

async function withStore<T>(fx: StoreFixture, fn: (s: Store) => Promise<T>, migrations?: readonly Migration[]): Promise<T> {
  const s = fx.open(migrations);
  try {
    await s.migrate();
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<PersistError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PersistError, `expected PersistError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a rejection with ${code}`);
}

export function storeContract(label: string, factory: FixtureFactory): void {
  const each = async (fn: (fx: StoreFixture) => Promise<void>) => {
    const fx = await factory();
    try {
      await fn(fx);
    } finally {
      await fx.cleanup();
    }
  };

  describe(`Store contract: ${label}`, () => {
    test('migrations: an empty database gets every version, a second start applies nothing', () =>
      each(async (fx) => {
        const first = await withStore(fx, (s) => s.migrate());
        // withStore already migrated once: the explicit call above is the second on that connection.
        assert.deepEqual(first, { version: SCHEMA_VERSION, applied: [] });
        const s = fx.open();
        try {
          assert.deepEqual(await s.migrate(), { version: SCHEMA_VERSION, applied: [] });
          assert.deepEqual(await s.migrate(), { version: SCHEMA_VERSION, applied: [] });
        } finally {
          await s.close();
        }
      }));

    test('migrations: the first migrate of an empty database reports what it applied', () =>
      each(async (fx) => {
        const s = fx.open();
        try {
          assert.deepEqual(await s.migrate(), { version: SCHEMA_VERSION, applied: MIGRATIONS.map((m) => m.version) });
        } finally {
          await s.close();
        }
      }));

    test('migrations: a database at the previous version is upgraded, keeping its data', () =>
      each(async (fx) => {
        await withStore(fx, async (s) => {
          assert.equal((await s.createAccount(newAccount('Keeper'))).ok, true);
        });
        const s = fx.open([...MIGRATIONS, EXTRA]);
        try {
          assert.deepEqual(await s.migrate(), { version: EXTRA.version, applied: [EXTRA.version] });
          assert.equal((await s.findAccountByName('keeper'))?.name, 'Keeper');
        } finally {
          await s.close();
        }
        // The older server refuses a schema it does not know rather than misreading it.
        const old = fx.open();
        try {
          await rejectsWith(old.migrate(), 'MMO_ERR_PERSIST_SCHEMA', /newer server/);
        } finally {
          await old.close();
        }
      }));

    test('a store refuses work before migrate(), unless it migrates on its first call', () =>
      each(async (fx) => {
        const s = fx.open();
        try {
          if (fx.migratesOnFirstCall) {
            assert.equal(await s.findAccountByName('x'), null);
            assert.deepEqual(await s.migrate(), { version: SCHEMA_VERSION, applied: MIGRATIONS.map((m) => m.version) });
          } else {
            await rejectsWith(s.findAccountByName('x'), 'MMO_ERR_PERSIST_SCHEMA', /before migrate/);
          }
        } finally {
          await s.close();
        }
      }));

    test('createAccount stores the account and its player; names are unique without regard to case', () =>
      each((fx) =>
        withStore(fx, async (s) => {
          const a = newAccount('Alice_01');
          const r = await s.createAccount(a);
          assert.ok(r.ok);
          assert.equal(r.account.name, 'Alice_01');
          assert.equal(r.player.accountId, r.account.id);
          assert.equal(r.player.name, 'Alice_01');
          assert.equal(r.player.version, 0);
          assert.deepEqual({ ...SPAWN }, pickState(r.player));

          const found = await s.findAccountByName('aLiCe_01');
          assert.ok(found);
          assert.equal(found.id, r.account.id);
          assert.equal(found.name, 'Alice_01');
          assert.deepEqual([...found.password.hash], [...a.password.hash]);
          assert.deepEqual([...found.password.salt], [...a.password.salt]);
          assert.deepEqual([found.password.logN, found.password.r, found.password.p], [10, 8, 1]);
          assert.equal(found.createdAt, a.createdAt);

          assert.deepEqual(await s.createAccount(newAccount('ALICE_01')), { ok: false, reason: 'name_taken' });
          assert.equal(await s.findAccountByName('bob'), null);
          // The refused registration left no player behind.
          assert.equal((await s.loadPlayersOfAccount(r.account.id)).length, 1);
          const other = await s.createAccount(newAccount('Bob'));
          assert.ok(other.ok);
          assert.equal(other.player.id, r.player.id + 1);
        }),
      ));

    test('loadPlayer and loadPlayersOfAccount read back what was created; unknown ids are null / empty', () =>
      each((fx) =>
        withStore(fx, async (s) => {
          const r = await s.createAccount(newAccount('Carol'));
          assert.ok(r.ok);
          assert.deepEqual(await s.loadPlayer(r.player.id), r.player);
          assert.deepEqual(await s.loadPlayersOfAccount(r.account.id), [r.player]);
          assert.equal(await s.loadPlayer(999_999), null);
          assert.deepEqual(await s.loadPlayersOfAccount(999_999), []);
        }),
      ));

    test('savePlayers writes every field of every row in one call; older and equal versions are skipped', () =>
      each((fx) =>
        withStore(fx, async (s) => {
          const ps = await players(s, 3);
          const next = ps.map((p, i) => ({ ...p, x: 1.1 + i, y: 4095.9375, hp: 7, maxHp: 300, xp: 4_000_000_000, level: 255, zone: 65535, inventory: [{ item: 65535, count: i + 1 }, { item: 3, count: 2 }], version: 5, updatedAt: 1_800_000_000_000 }));
          assert.deepEqual(await s.savePlayers(next), { written: 3, skipped: [] });
          for (const p of next) assert.deepEqual(await s.loadPlayer(p.id), p);

          const older = { ...next[0]!, version: 4, x: 9 };
          const same = { ...next[1]!, version: 5, x: 9 };
          const newer = { ...next[2]!, version: 6, x: 9 };
          const res = await s.savePlayers([older, same, newer]);
          assert.equal(res.written, 1);
          assert.deepEqual([...res.skipped].sort(), [older.id, same.id].sort());
          assert.deepEqual(await s.loadPlayer(older.id), next[0]);
          assert.deepEqual(await s.loadPlayer(same.id), next[1]);
          assert.deepEqual(await s.loadPlayer(newer.id), newer);
          // A player that does not exist is skipped, not created.
          assert.deepEqual(await s.savePlayers([{ ...newer, id: 424242, version: 9 }]), { written: 0, skipped: [424242] });
          assert.equal(await s.loadPlayer(424242), null);
          assert.deepEqual(await s.savePlayers([]), { written: 0, skipped: [] });
        }),
      ));

    test('savePlayers with the same player twice keeps the newest version', () =>
      each((fx) =>
        withStore(fx, async (s) => {
          const [p] = await players(s, 1);
          const v3 = { ...p!, version: 3, x: 3 };
          const v2 = { ...p!, version: 2, x: 2 };
          const r = await s.savePlayers([v3, v2]);
          assert.equal(r.written, 1);
          assert.deepEqual(await s.loadPlayer(p!.id), v3);
        }),
      ));

    test('an invalid record refuses the whole batch (MMO_ERR_PERSIST_INVALID) and writes nothing', () =>
      each((fx) =>
        withStore(fx, async (s) => {
          const ps = await players(s, 2);
          const good = { ...ps[0]!, version: 1, x: 42 };
          const bad = { ...ps[1]!, version: 1, hp: 70_000 };
          await rejectsWith(s.savePlayers([good, bad]), 'MMO_ERR_PERSIST_INVALID', /hp 70000/);
          assert.deepEqual(await s.loadPlayer(good.id), ps[0]);
          await rejectsWith(s.savePlayers([{ ...good, inventory: Array.from({ length: 65 }, () => ({ item: 1, count: 1 })) }]), 'MMO_ERR_PERSIST_INVALID', /inventory/);
          await rejectsWith(s.savePlayers([{ ...good, x: Number.NaN }]), 'MMO_ERR_PERSIST_INVALID', /position/);
        }),
      ));

    test('writeEvents stores events with the player state in one transaction, once per event id', () =>
      each((fx) =>
        withStore(fx, async (s) => {
          const [p, q] = await players(s, 2);
          const lv: EventWrite = { event: { id: 'ev-1', playerId: p!.id, kind: 'level_up', data: { level: 2 }, at: 1000 }, player: { ...p!, level: 2, xp: 100, version: 1 } };
          const it: EventWrite = { event: { id: 'ev-2', playerId: q!.id, kind: 'item_gained', data: { item: 7, count: 1, total: 1 }, at: 1001 }, player: { ...q!, inventory: [{ item: 7, count: 1 }], version: 1 } };
          assert.deepEqual(await s.writeEvents([lv, it]), { inserted: [true, true], players: { written: 2, skipped: [] } });
          assert.deepEqual(await s.loadPlayer(p!.id), lv.player);
          assert.deepEqual(await s.loadPlayer(q!.id), it.player);

          // A retry of the same event (the first answer was lost) stores nothing twice.
          const again = await s.writeEvents([lv]);
          assert.deepEqual(again.inserted, [false]);
          assert.deepEqual(again.players.skipped, [p!.id]);

          const found = await s.findEvents(['ev-1', 'ev-2', 'ev-missing']);
          assert.deepEqual(
            found.sort((a, b) => a.id.localeCompare(b.id)),
            [
              { ...lv.event, playerVersion: 1 },
              { ...it.event, playerVersion: 1 },
            ],
          );
          assert.deepEqual(await s.findEvents([]), []);
        }),
      ));

    test('writeEvents is atomic: a failing event (unknown player) stores nothing of its batch', () =>
      each((fx) =>
        withStore(fx, async (s) => {
          const [p] = await players(s, 1);
          const ok: EventWrite = { event: { id: 'a', playerId: p!.id, kind: 'level_up', data: { level: 2 }, at: 1 }, player: { ...p!, level: 2, version: 1 } };
          const orphan: EventWrite = { event: { id: 'b', playerId: 777_777, kind: 'level_up', data: { level: 2 }, at: 1 }, player: { ...p!, id: 777_777, version: 1 } };
          await rejectsWith(s.writeEvents([ok, orphan]), 'MMO_ERR_PERSIST_INVALID');
          assert.deepEqual(await s.findEvents(['a', 'b']), []);
          assert.deepEqual(await s.loadPlayer(p!.id), p);
        }),
      ));

    test('data survives closing and reopening the store', () =>
      each(async (fx) => {
        let saved: PlayerRecord | undefined;
        await withStore(fx, async (s) => {
          const [p] = await players(s, 1);
          saved = { ...p!, x: 12.5, level: 3, version: 2, inventory: [{ item: 1, count: 9 }] };
          await s.savePlayers([saved]);
        });
        await withStore(fx, async (s) => {
          assert.deepEqual(await s.loadPlayer(saved!.id), saved);
          assert.equal(await s.integrityCheck(), 'ok');
          await s.ping();
        });
      }));

    test('property: after any sequence of batches each row holds its highest-versioned record', () =>
      each((fx) =>
        withStore(fx, async (s) => {
          const ps = await players(s, 4);
          await fc.assert(
            fc.asyncProperty(
              fc.array(fc.array(fc.record({ who: fc.nat(3), version: fc.integer({ min: 1, max: 1_000_000 }), x: fc.double({ min: -1e6, max: 1e6, noNaN: true }) }), { maxLength: 6 }), { maxLength: 5 }),
              async (batches) => {
                const expect = new Map<number, PlayerRecord>();
                for (const p of ps) expect.set(p.id, (await s.loadPlayer(p.id))!);
                for (const batch of batches) {
                  const recs = batch.map((b) => ({ ...ps[b.who]!, version: b.version, x: b.x }));
                  await s.savePlayers(recs);
                  for (const r of recs) if (r.version > expect.get(r.id)!.version) expect.set(r.id, r);
                }
                for (const p of ps) assert.deepEqual(await s.loadPlayer(p.id), expect.get(p.id));
              },
            ),
            { numRuns: 25, seed: 7 },
          );
        }),
      ));
  });
}

function pickState(p: PlayerRecord): PlayerState {
  const { zone, x, y, hp, maxHp, xp, level, inventory } = p;
  return { zone, x, y, hp, maxHp, xp, level, inventory };
}

async function players(s: Store, n: number): Promise<PlayerRecord[]> {
  const out: PlayerRecord[] = [];
  for (let i = 0; i < n; i++) {
    const r = await s.createAccount(newAccount(`P${i}_${randomBytes(3).toString('hex')}`));
    assert.ok(r.ok);
    out.push(r.player);
  }
  return out;
}
