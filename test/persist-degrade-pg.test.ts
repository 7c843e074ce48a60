// The database goes away mid-run (PostgreSQL stopped with pg_ctl): writes
// retry with backoff, the alarm metric and a rate-limited error log fire,
// nothing crashes, write-through promises wait instead of lying, and after
// the server comes back everything acknowledged and everything queued is there.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { Persistence } from '../src/persist/persistence.js';
import { PgStore } from '../src/persist/pg-store.js';
import { PersistError } from '../src/persist/errors.js';
import type { WriteThroughAck } from '../src/persist/write-queue.js';
import { startPgCluster, type PgCluster } from './helpers/pg-cluster.js';
import { captureLogger } from './helpers/fake-store.js';
import { startServer, metricValue } from './helpers/server.js';
import { postJson } from './helpers/http.js';
import { stateAt } from './fixtures/synthetic-state.js';
import { waitFor } from './helpers/wait.js';

let cluster: PgCluster;
before(async () => {
  // Stopping the server needs a cluster of our own, even when MMO_TEST_PG_URL names one.
  cluster = await startPgCluster({ own: true });
});
after(async () => {
  await cluster?.destroy();
});

describe('PostgreSQL stopped mid-run', () => {
  test('persistence retries, alarms, keeps promises pending, and loses nothing once the server is back', async () => {
    const url = await cluster.createDatabase();
    const registry = new Registry();
    const { log, lines } = captureLogger();
    const p = await Persistence.open(
      {
        store: { kind: 'postgres', url, poolSize: 2, connectTimeoutMs: 1000, statementTimeoutMs: 2000 },
        queue: { intervalMs: 100, retryMinMs: 50, retryMaxMs: 400, maxPendingEvents: 1000, maxEventsPerBatch: 100, alarmLogIntervalMs: 1000 },
      },
      log,
      registry,
    );
    const gauge = async (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(await registry.metrics())?.[1]);
    try {
      const ids: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await p.store.createAccount({ name: `deg${i}`, password: { hash: new Uint8Array(randomBytes(32)), salt: new Uint8Array(randomBytes(16)), logN: 10, r: 8, p: 1 }, createdAt: Date.now(), player: stateAt(0, 0) });
        assert.ok(r.ok);
        const pl = await p.loadForLogin({ accountId: r.account.id, name: r.account.name, guest: false, expiresAt: 0 }, stateAt(0, 0));
        ids.push(pl.id);
      }
      const snap = (id: number, gen: number) => ({ ...stateAt(id, gen), id, accountId: 0, name: '' });
      for (const id of ids) p.markDirty(id, snap(id, 1));
      assert.equal((await p.flush(5000)).complete, true);
      assert.equal(await gauge('mmo_persist_db_up'), 1);

      await cluster.stopServer();
      const downAt = Date.now();

      // Play goes on while the database is away.
      for (let gen = 2; gen <= 6; gen++) for (const id of ids) p.markDirty(id, snap(id, gen));
      const acks: Array<WriteThroughAck | null> = [null, null];
      const wts = [0, 1].map((k) => p.writeThrough({ playerId: ids[k]!, kind: 'level_up', data: { level: 2 }, state: snap(ids[k]!, 7), id: `down-${k}` }).then((a) => (acks[k] = a)));
      for (let k = 2; k < 4; k++) p.markDirty(ids[k]!, snap(ids[k]!, 7));
      const timedOut = p.writeThrough({ playerId: ids[0]!, kind: 'item_gained', data: { item: 1 }, state: snap(ids[0]!, 8), id: 'down-timeout', timeoutMs: 300 });
      await assert.rejects(timedOut, (e: unknown) => e instanceof PersistError && e.code === 'MMO_ERR_PERSIST_TIMEOUT');

      await waitFor(async () => (await gauge('mmo_persist_failures_total{kind="behind"}')) >= 3, 10_000, 'write-behind retries');
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(await gauge('mmo_persist_db_up'), 0, 'alarm gauge down');
      assert.ok((await gauge('mmo_persist_failures_total{kind="through"}')) >= 2, 'write-through retried too');
      assert.ok((await gauge('mmo_persist_queue_depth')) >= 2);
      assert.ok((await gauge('mmo_persist_oldest_unsaved_seconds')) > 1);
      assert.deepEqual(acks, [null, null], 'nothing acknowledged while the database is down');
      const errors = lines.filter((l) => l.level === 50);
      const failures = (await gauge('mmo_persist_failures_total{kind="behind"}')) + (await gauge('mmo_persist_failures_total{kind="through"}'));
      // One line per alarmLogIntervalMs (1 s) at most, however many retries.
      const allowed = Math.ceil((Date.now() - downAt) / 1000) + 1;
      assert.ok(errors.length >= 1 && errors.length <= allowed && errors.length < failures, `error log rate-limited: ${errors.length} lines for ${failures} failures in ${Date.now() - downAt} ms`);
      assert.match(String(errors[0]!.msg), /database write failed/);

      await cluster.startServer();
      await Promise.all(wts);
      assert.ok((acks as Array<WriteThroughAck | null>).every((a) => a !== null && a.persisted));
      await waitFor(async () => (await gauge('mmo_persist_db_up')) === 1, 10_000, 'gauge back up');
      assert.equal((await p.flush(10_000)).complete, true);
      assert.ok(lines.some((l) => l.level === 40 && /succeed again/.test(String(l.msg))));
    } finally {
      await cluster.startServer().catch(() => {});
      await p.close(5000);
    }

    // What the database holds now, read independently.
    const check = new PgStore({ url, poolSize: 1, connectTimeoutMs: 2000, statementTimeoutMs: 5000 });
    try {
      await check.migrate();
      const events = await check.findEvents(['down-0', 'down-1', 'down-timeout']);
      assert.deepEqual(events.map((e) => e.id).sort(), ['down-0', 'down-1', 'down-timeout'], 'acknowledged and timed-out events are all stored');
      const rows = await Promise.all([1, 2, 3, 4].map((id) => check.loadPlayer(id)));
      assert.deepEqual(rows.map((r) => r!.xp), [8, 7, 7, 7], 'every player at its newest generation');
    } finally {
      await check.close();
    }
  });

  test('the server keeps running: logins answer 503 with retry-after while the database is down, 200 after', async () => {
    const url = await cluster.createDatabase();
    const s = await startServer({ args: ['--auth.scryptLogN=10', `--persist.postgresUrl=${url}`, '--persist.connectTimeoutMs=500', '--auth.rateLimitBurst=1000'] });
    try {
      assert.ok(s.logs.some((l) => /database ready: postgres/.test(String(l.msg))));
      assert.equal((await postJson(s.url, '/auth/register', { name: 'Survivor', password: 'password1' })).status, 201);
      await cluster.stopServer();
      const down = await postJson(s.url, '/auth/login', { name: 'Survivor', password: 'password1' });
      assert.equal(down.status, 503);
      assert.equal(down.json!.error, 'unavailable');
      assert.equal(down.headers['retry-after'], '5');
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      await cluster.startServer();
      await waitFor(async () => (await postJson(s.url, '/auth/login', { name: 'Survivor', password: 'password1' })).status === 200, 10_000, 'login after restart');
      assert.equal(await metricValue(s.url, 'mmo_persist_db_up'), 1);
    } finally {
      await cluster.startServer().catch(() => {});
      assert.equal(await s.stop(), 0);
    }
    assert.equal(s.child.exitCode, 0);
  });
});
