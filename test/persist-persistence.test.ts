// Persistence as the session layer uses it: login loads (and tracks) the
// character, a quick re-login sees changes still queued, guests are never
// written, and closing saves everything for the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Persistence, persistenceOptions } from '../src/persist/persistence.js';
import { defaultConfig } from '../src/config/index.js';
import { GUEST_ID_BASE } from '../src/persist/types.js';
import { PersistError } from '../src/persist/errors.js';
import { captureLogger } from './helpers/fake-store.js';
import { tempDir } from './helpers/server.js';
import { SPAWN } from './helpers/store-contract.js';

function options(dir: string) {
  const cfg = defaultConfig();
  cfg.server.dataDir = dir;
  cfg.persist.writeIntervalMs = 60_000;
  return persistenceOptions(cfg);
}

test('persistenceOptions: SQLite under server.dataDir by default, PostgreSQL when a URL is set', () => {
  const cfg = defaultConfig();
  cfg.server.dataDir = '/var/lib/mmo';
  const o = persistenceOptions(cfg);
  assert.deepEqual(o.store, { kind: 'sqlite', file: '/var/lib/mmo/mmo.sqlite', synchronous: 'full', busyTimeoutMs: 5000 });
  assert.equal(o.queue.intervalMs, 1000);
  cfg.persist.postgresUrl = 'postgres://u@db/mmo';
  assert.equal(persistenceOptions(cfg).store.kind, 'postgres');
});

test('login loads and tracks; a re-login before the write sees the released state; close saves it for the next start', async () => {
  const dir = tempDir();
  const { log, lines } = captureLogger();
  const p = await Persistence.open(options(dir), log, null);
  assert.deepEqual(p.migration, { version: 1, applied: [1] });
  assert.ok(lines.some((l) => /database ready: sqlite/.test(String(l.msg))));
  const r = await p.store.createAccount({ name: 'Roundtrip', password: { hash: new Uint8Array(randomBytes(32)), salt: new Uint8Array(randomBytes(16)), logN: 10, r: 8, p: 1 }, createdAt: 1, player: SPAWN });
  assert.ok(r.ok);
  const claims = { accountId: r.account.id, name: 'Roundtrip', guest: false, expiresAt: 0 };
  const first = await p.loadForLogin(claims, SPAWN);
  assert.equal(first.id, r.player.id);
  assert.equal(first.version, 0);

  const moved = { ...first, x: 321.5, y: 77, level: 4, xp: 900, inventory: [{ item: 5, count: 2 }] };
  p.markDirty(first.id, moved);
  p.release(first.id, { ...moved, hp: 12 });
  // Not written yet (interval 60 s), but a new login must see it.
  assert.equal((await p.store.loadPlayer(first.id))!.x, SPAWN.x);
  const again = await p.loadForLogin(claims, SPAWN);
  assert.deepEqual([again.x, again.level, again.hp, again.inventory], [321.5, 4, 12, [{ item: 5, count: 2 }]]);

  assert.deepEqual(await p.close(5000), { complete: true, unsavedPlayers: 0, unsavedEvents: 0 });

  const p2 = await Persistence.open(options(dir), log, null);
  try {
    assert.deepEqual(p2.migration.applied, []);
    const after = await p2.loadForLogin(claims, SPAWN);
    assert.deepEqual([after.x, after.y, after.level, after.xp, after.hp, after.inventory], [321.5, 77, 4, 900, 12, [{ item: 5, count: 2 }]]);
    assert.ok(after.version > 0);
    await assert.rejects(p2.loadForLogin({ ...claims, accountId: 999 }, SPAWN), (e: unknown) => e instanceof PersistError && e.code === 'MMO_ERR_PERSIST_INVALID');
  } finally {
    await p2.close();
  }
});

test('a guest gets an in-memory character that is never written', async () => {
  const p = await Persistence.open(options(tempDir()), captureLogger().log, null);
  try {
    const g = await p.loadForLogin({ accountId: GUEST_ID_BASE + 3, name: 'guest_x', guest: true, expiresAt: 0 }, SPAWN);
    assert.equal(g.id, GUEST_ID_BASE + 3);
    assert.equal(g.accountId, 0);
    assert.equal(g.name, 'guest_x');
    assert.equal(g.zone, SPAWN.zone);
    assert.equal(p.markDirty(g.id, { ...g, x: 5 }), false);
    assert.equal((await p.writeThrough({ playerId: g.id, kind: 'level_up', data: { level: 2 }, state: { ...g, level: 2 } })).persisted, false);
    await assert.rejects(p.loadForLogin({ accountId: 5, name: 'fake', guest: true, expiresAt: 0 }, SPAWN), /non-guest id/);
  } finally {
    await p.close();
  }
});

test('a database that cannot be opened stops start-up with a clear error', async () => {
  const cfg = defaultConfig();
  cfg.persist.postgresUrl = 'postgres://nobody@127.0.0.1:1/none';
  cfg.persist.connectTimeoutMs = 500;
  await assert.rejects(Persistence.open(persistenceOptions(cfg), captureLogger().log, null), (e: unknown) => e instanceof PersistError && /cannot open the database \(postgres postgres:\/\/nobody@127\.0\.0\.1:1\/none\).*ECONNREFUSED/.test(e.message));
});

test('the server binary refuses to start (exit 1, fatal log naming the database) when the database cannot be opened', async () => {
  const { startServer } = await import('./helpers/server.js');
  const s = await startServer({ args: ['--persist.postgresUrl=postgres://nobody@127.0.0.1:1/none', '--persist.connectTimeoutMs=500'], expectExit: true });
  assert.equal(await s.exited, 1);
  const fatal = s.logs.find((l) => l.level === 60);
  assert.match(String(fatal?.msg), /cannot open the database \(postgres .*\).*ECONNREFUSED/);
});
