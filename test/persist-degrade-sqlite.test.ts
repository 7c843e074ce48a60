// SQLite failing under the server: another process holds the write lock (a
// backup tool, the sqlite3 shell), so writes fail with SQLITE_BUSY after
// persist.sqliteBusyTimeoutMs. The queue retries, alarms, acknowledges
// nothing early, and everything lands once the lock is released.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { Persistence } from '../src/persist/persistence.js';
import { SqliteStore } from '../src/persist/sqlite-store.js';
import type { WriteThroughAck } from '../src/persist/write-queue.js';
import { captureLogger } from './helpers/fake-store.js';
import { tempDir } from './helpers/server.js';
import { stateAt } from './fixtures/synthetic-state.js';

test('a write lock held elsewhere: retries with backoff, db_up 0, nothing acknowledged until it is written, nothing lost', async () => {
  const file = join(tempDir(), 'busy.sqlite');
  const registry = new Registry();
  const { log, lines } = captureLogger();
  const p = await Persistence.open(
    {
      store: { kind: 'sqlite', file, synchronous: 'full', busyTimeoutMs: 20 },
      queue: { intervalMs: 50, retryMinMs: 20, retryMaxMs: 100, maxPendingEvents: 100, maxEventsPerBatch: 100, alarmLogIntervalMs: 60_000 },
    },
    log,
    registry,
  );
  const r = await p.store.createAccount({ name: 'Locked', password: { hash: new Uint8Array(randomBytes(32)), salt: new Uint8Array(randomBytes(16)), logN: 10, r: 8, p: 1 }, createdAt: 1, player: stateAt(0, 0) });
  assert.ok(r.ok);
  const pl = await p.loadForLogin({ accountId: r.account.id, name: 'Locked', guest: false, expiresAt: 0 }, stateAt(0, 0));
  const snap = (gen: number) => ({ ...stateAt(pl.id, gen), id: pl.id, accountId: r.account.id, name: 'Locked' });

  const other = new Database(file);
  other.prepare('BEGIN IMMEDIATE').run();
  let ack: WriteThroughAck | null = null;
  try {
    p.markDirty(pl.id, snap(1));
    const wt = p.writeThrough({ playerId: pl.id, kind: 'item_gained', data: { item: 3 }, state: snap(2), id: 'locked-1' }).then((a) => (ack = a));
    p.markDirty(pl.id, snap(3));
    await new Promise((res) => setTimeout(res, 400));
    const text = await registry.metrics();
    assert.match(text, /^mmo_persist_db_up 0$/m);
    assert.ok(Number(/^mmo_persist_failures_total\{kind="through"\} (\d+)$/m.exec(text)![1]) >= 2, 'retried');
    assert.equal(ack, null, 'not acknowledged while the database refuses the write');
    assert.equal(lines.filter((l) => l.level === 50).length, 1, 'one alarm line');
    assert.match(JSON.stringify(lines.find((l) => l.level === 50)), /SQLITE_BUSY/);
    other.prepare('COMMIT').run();
    await wt;
    assert.equal((ack as WriteThroughAck | null)?.persisted, true);
    assert.equal((await p.flush(5000)).complete, true);
    assert.match(await registry.metrics(), /^mmo_persist_db_up 1$/m);
  } finally {
    if (other.inTransaction) other.prepare('ROLLBACK').run();
    other.close();
    await p.close(2000);
  }
  const check = new SqliteStore({ file, synchronous: 'normal' });
  await check.migrate();
  assert.equal((await check.loadPlayer(pl.id))!.xp, 3, 'the newest state');
  assert.equal((await check.findEvents(['locked-1'])).length, 1);
  await check.close();
});
