// The write queue's rules, against an in-memory store whose calls can be held
// or failed: one transaction per interval, latest state wins, nothing
// acknowledged before it is committed, nothing lost while the database is
// down, versions that make any landing order safe.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { WriteQueue, type PlayerSnapshot, type WriteQueueOptions, type WriteThroughAck } from '../src/persist/write-queue.js';
import { PersistMetrics, WriteKind } from '../src/persist/metrics.js';
import { PersistError } from '../src/persist/errors.js';
import { GUEST_ID_BASE, type PlayerRecord } from '../src/persist/types.js';
import { FakeStore, captureLogger } from './helpers/fake-store.js';

const OPTS: WriteQueueOptions = {
  intervalMs: 1000,
  retryMinMs: 5,
  retryMaxMs: 20,
  maxPendingEvents: 100,
  maxEventsPerBatch: 50,
  alarmLogIntervalMs: 60_000,
  autoStart: false,
};

function player(id: number, over: Partial<PlayerRecord> = {}): PlayerRecord {
  return { id, accountId: id, name: `p${id}`, zone: 0, x: 0, y: 0, hp: 10, maxHp: 10, xp: 0, level: 1, inventory: [], version: 0, updatedAt: 0, ...over };
}

function snap(id: number, over: Partial<PlayerSnapshot> = {}): PlayerSnapshot {
  const { version: _v, updatedAt: _u, ...s } = player(id, over as Partial<PlayerRecord>);
  return s;
}

function setup(n: number, opts: Partial<WriteQueueOptions> = {}) {
  const store = new FakeStore();
  const { log, lines } = captureLogger();
  const registry = new Registry();
  let q: WriteQueue | null = null;
  const metrics = new PersistMetrics(registry, () => q);
  q = new WriteQueue(store, { ...OPTS, ...opts }, log, metrics);
  for (let i = 1; i <= n; i++) {
    store.seed(player(i));
    q.track(player(i));
  }
  return { store, q, lines, metrics, registry };
}

/** Lets queued promise callbacks and setImmediate run. */
async function settle(ms = 0): Promise<void> {
  await sleep(ms);
  await new Promise((r) => setImmediate(r));
}

function state(p: PlayerRecord | undefined): PlayerSnapshot | undefined {
  if (!p) return undefined;
  const { version: _v, updatedAt: _u, ...s } = p;
  return s;
}

async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail('condition not reached');
    await settle(1);
  }
}

async function isPending(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([p.then(() => 'done', () => 'done'), settle().then(() => marker)])) === marker;
}

describe('write-behind', () => {
  test('all dirty players are written in one transaction per tick, each once, with its latest state', async () => {
    const { store, q, metrics } = setup(3);
    let calls = 0;
    q.markDirty(1, snap(1, { x: 1 }));
    q.markDirty(1, snap(1, { x: 2 }));
    q.markDirty(2, () => (calls++, snap(2, { x: 7 })));
    q.markDirty(2, () => (calls++, snap(2, { x: 8 })));
    assert.equal(q.queueDepth, 2);
    q.tick();
    await settle();
    assert.deepEqual(store.calls, [{ method: 'savePlayers', size: 2 }]);
    assert.equal(calls, 1, 'the snapshot function is read once, at write time');
    assert.equal(store.rows.get(1)!.x, 2);
    assert.equal(store.rows.get(2)!.x, 8);
    assert.equal(store.rows.get(1)!.version, 1);
    assert.equal(store.rows.get(3)!.version, 0, 'a clean player is not written');
    assert.equal(q.queueDepth, 0);
    assert.equal(metrics.batches.values[WriteKind.behind], 1);
    assert.equal(metrics.rows.values[WriteKind.behind], 2);
    assert.equal(metrics.writeSeconds.count(WriteKind.behind), 1);

    q.tick();
    await settle();
    assert.equal(store.calls.length, 1, 'nothing dirty, nothing written');
    q.markDirty(1, snap(1, { x: 3 }));
    q.tick();
    await settle();
    assert.equal(store.rows.get(1)!.version, 2);
  });

  test('one batch in flight at a time; changes made meanwhile go in the next batch, started when the first lands', async () => {
    const { store, q } = setup(2);
    store.hold();
    q.markDirty(1, snap(1, { x: 1 }));
    q.tick();
    await settle();
    q.markDirty(1, snap(1, { x: 2 }));
    q.markDirty(2, snap(2, { x: 2 }));
    q.tick();
    await settle();
    assert.equal(store.count('savePlayers'), 1, 'no second batch while the first is in flight');
    assert.equal(q.queueDepth, 3, 'one in flight, two waiting');
    store.release();
    // The tick that found a batch in flight runs as soon as it lands, not an interval later.
    await until(() => store.calls.length === 2);
    store.release();
    await until(() => q.queueDepth === 0);
    assert.deepEqual(store.calls.map((c) => c.size), [1, 2]);
    assert.equal(store.rows.get(1)!.x, 2);
    assert.equal(store.rows.get(2)!.x, 2);
  });

  test('a failed batch keeps its players dirty, backs off, alarms once, and the latest state lands after recovery', async () => {
    const { store, q, lines, metrics } = setup(2, { retryMinMs: 100, retryMaxMs: 100 });
    store.failing = true;
    q.markDirty(1, snap(1, { x: 1 }));
    q.markDirty(2, snap(2, { x: 1 }));
    q.tick();
    await settle();
    assert.equal(q.databaseUp, false);
    assert.equal(q.queueDepth, 2, 'still dirty');
    assert.equal(metrics.failures.values[WriteKind.behind], 1);
    q.tick();
    await settle();
    assert.equal(store.count('savePlayers'), 1, 'no retry before the backoff has passed');
    q.markDirty(1, snap(1, { x: 5 }));
    // Retries run by themselves at the backoff deadline, not only on interval ticks.
    await until(() => store.count('savePlayers') >= 4);
    const errors = lines.filter((l) => l.level === 50);
    assert.equal(errors.length, 1, 'the error is logged at most once per alarmLogIntervalMs');
    assert.match(String(errors[0]!.msg), /database write failed.*nothing acknowledged is lost/);
    assert.equal(store.rows.get(1)!.version, 0, 'nothing written yet');

    store.failing = false;
    await until(() => q.queueDepth === 0);
    assert.equal(q.databaseUp, true);
    assert.equal(store.rows.get(1)!.x, 5, 'the newest state, marked during the outage');
    assert.equal(store.rows.get(2)!.x, 1);
    assert.ok(lines.some((l) => l.level === 40 && /succeed again/.test(String(l.msg))));
  });

  test('a state out of range is dropped with an error and the invalid metric, not retried forever', async () => {
    const { store, q, lines, metrics } = setup(2);
    q.markDirty(1, () => snap(1, { hp: 11, maxHp: 10 }));
    q.markDirty(2, snap(2, { x: 4 }));
    q.tick();
    await settle();
    assert.equal(metrics.invalid.total(), 1);
    assert.ok(lines.some((l) => l.level === 50 && l.players === 1 && /^player 1: hp 11/.test(String(l.first))));
    assert.equal(store.rows.get(2)!.x, 4);
    assert.equal(store.rows.get(1)!.version, 0);
    assert.equal(q.queueDepth, 0);
  });

  test('a big batch is collected a chunk per turn; changes during the collection land in this batch or the next, never lost', async () => {
    const { store, q } = setup(6, { snapshotsPerTurn: 2 });
    for (let i = 1; i <= 6; i++) q.markDirty(i, snap(i, { x: 1 }));
    q.tick();
    // The first chunk (players 1, 2) is taken synchronously; the rest after yields.
    q.markDirty(1, snap(1, { x: 2 }));
    q.markDirty(5, snap(5, { x: 2 }));
    const wt = q.writeThrough({ playerId: 6, kind: 'level_up', data: { level: 2 }, state: snap(6, { x: 3, level: 2 }) });
    await wt;
    await until(() => store.count('savePlayers') === 1 && q.queueDepth === 1);
    assert.equal(store.calls.filter((c) => c.method === 'savePlayers')[0]!.size, 5, 'players 1-5 in one transaction; 6 went with its write-through');
    assert.equal(store.rows.get(5)!.x, 2, 'a change made before its turn is in this batch');
    assert.equal(store.rows.get(1)!.x, 1, 'a change made after its turn waits');
    assert.equal(q.queueDepth, 1);
    q.tick();
    await until(() => store.rows.get(1)!.x === 2);
    assert.equal(store.rows.get(6)!.level, 2);
    assert.equal(q.queueDepth, 0);
  });

  test('release saves the final state, answers reloads with it until durable, then forgets the player', async () => {
    const { store, q } = setup(1);
    store.hold();
    q.release(1, snap(1, { x: 9, level: 3 }));
    assert.deepEqual(state(q.pendingState(1) ?? undefined), snap(1, { x: 9, level: 3 }));
    q.tick();
    await settle();
    assert.equal(q.isTracked(1), true, 'kept while the write is in flight');
    store.release();
    await settle();
    assert.equal(store.rows.get(1)!.x, 9);
    assert.equal(q.isTracked(1), false);
    assert.throws(() => q.markDirty(1, snap(1)), (e: unknown) => e instanceof PersistError && e.code === 'MMO_ERR_PERSIST_UNTRACKED');
  });

  test('guests are never written', async () => {
    const { store, q } = setup(0);
    const g = GUEST_ID_BASE + 5;
    assert.equal(q.markDirty(g, snap(g)), false);
    const ack = await q.writeThrough({ playerId: g, kind: 'level_up', data: { level: 2 }, state: snap(g, { level: 2 }) });
    assert.equal(ack.persisted, false);
    q.tick();
    await q.flush();
    assert.equal(store.calls.length, 0);
  });
});

describe('write-through', () => {
  test('resolves only after the commit, with the stored version', async () => {
    const { store, q } = setup(1);
    store.hold();
    const p = q.writeThrough({ playerId: 1, kind: 'level_up', data: { level: 2 }, state: snap(1, { level: 2, xp: 100 }), id: 'lv2' });
    await settle();
    assert.equal(await isPending(p), true);
    assert.equal(q.throughPending, 1);
    assert.equal(store.events.size, 0);
    store.release();
    const ack = await p;
    assert.deepEqual(ack, { eventId: 'lv2', version: 1, persisted: true, duplicate: false });
    assert.equal(store.events.get('lv2')!.playerVersion, 1);
    assert.equal(store.rows.get(1)!.level, 2);
    assert.equal(q.throughPending, 0);
  });

  test('calls of one turn share a transaction (group commit); later ones wait for it and share the next', async () => {
    const { store, q } = setup(4);
    store.hold();
    const first = [1, 2, 3].map((i) => q.writeThrough({ playerId: i, kind: 'item_gained', data: { item: i }, state: snap(i, { inventory: [{ item: i, count: 1 }] }) }));
    await settle();
    const later = [4, 1].map((i) => q.writeThrough({ playerId: i, kind: 'level_up', data: { level: 2 }, state: snap(i, { level: 2, inventory: i === 1 ? [{ item: 1, count: 1 }] : [] }) }));
    await settle();
    assert.deepEqual(store.calls, [{ method: 'writeEvents', size: 3 }]);
    store.release();
    await Promise.all(first);
    await Promise.all(later);
    assert.deepEqual(store.calls.map((c) => c.size), [3, 2]);
    assert.equal(store.rows.get(1)!.version, 2);
    assert.equal(store.rows.get(1)!.level, 2);
  });

  test('while the database is down the promise stays pending; it resolves once the event is stored', async () => {
    const { store, q, metrics } = setup(1);
    store.failing = true;
    let ack: WriteThroughAck | null = null;
    const p = q.writeThrough({ playerId: 1, kind: 'level_up', data: { level: 2 }, state: snap(1, { level: 2 }), id: 'e1' }).then((a) => (ack = a));
    await settle(60);
    assert.equal(ack, null);
    assert.ok(store.count('writeEvents') >= 2, 'retried with backoff');
    assert.ok(metrics.failures.values[WriteKind.through]! >= 2);
    assert.equal(q.databaseUp, false);
    store.failing = false;
    await p;
    assert.equal(ack!.eventId, 'e1');
    assert.equal(store.events.size, 1);
    assert.equal(q.databaseUp, true);
  });

  test('timeoutMs rejects with MMO_ERR_PERSIST_TIMEOUT but the event is still written later', async () => {
    const { store, q } = setup(1);
    store.failing = true;
    await assert.rejects(
      q.writeThrough({ playerId: 1, kind: 'level_up', data: { level: 2 }, state: snap(1, { level: 2 }), id: 'late', timeoutMs: 30 }),
      (e: unknown) => e instanceof PersistError && e.code === 'MMO_ERR_PERSIST_TIMEOUT' && e.transient,
    );
    store.failing = false;
    await q.flush(2000);
    assert.ok(store.events.has('late'));
    assert.equal(store.rows.get(1)!.level, 2);
  });

  test('past maxPendingEvents new events are refused (MMO_ERR_PERSIST_BACKLOG) and their state goes to write-behind', async () => {
    const { store, q } = setup(2, { maxPendingEvents: 2 });
    store.failing = true;
    const a = q.writeThrough({ playerId: 1, kind: 'level_up', data: { level: 2 }, state: snap(1, { level: 2 }) });
    const b = q.writeThrough({ playerId: 1, kind: 'level_up', data: { level: 3 }, state: snap(1, { level: 3 }) });
    await settle();
    await assert.rejects(
      q.writeThrough({ playerId: 2, kind: 'level_up', data: { level: 2 }, state: snap(2, { level: 2 }) }),
      (e: unknown) => e instanceof PersistError && e.code === 'MMO_ERR_PERSIST_BACKLOG',
    );
    assert.equal(q.queueDepth, 1, 'player 2 is dirty instead');
    store.failing = false;
    await q.flush(2000);
    await Promise.all([a, b]);
    assert.equal(store.rows.get(1)!.level, 3);
    assert.equal(store.rows.get(2)!.level, 2);
    assert.equal(store.events.size, 2);
  });

  test('an event the store refuses rejects alone (MMO_ERR_PERSIST_INVALID); its batch mates are stored', async () => {
    const { store, q } = setup(3);
    store.unknownPlayers.add(2);
    const ps = [1, 2, 3].map((i) => q.writeThrough({ playerId: i, kind: 'level_up', data: { level: 2 }, state: snap(i, { level: 2 }), id: `ev${i}` }));
    const results = await Promise.allSettled(ps);
    assert.equal(results[0]!.status, 'fulfilled');
    assert.equal(results[2]!.status, 'fulfilled');
    assert.equal(results[1]!.status, 'rejected');
    assert.equal(((results[1] as PromiseRejectedResult).reason as PersistError).code, 'MMO_ERR_PERSIST_INVALID');
    assert.deepEqual([...store.events.keys()].sort(), ['ev1', 'ev3']);
  });

  test('a late write-behind batch never overwrites a newer write-through, whatever lands first', async () => {
    const { store, q } = setup(1);
    store.hold();
    q.markDirty(1, snap(1, { x: 1 }));
    q.tick();
    await settle();
    const wt = q.writeThrough({ playerId: 1, kind: 'level_up', data: { level: 2 }, state: snap(1, { x: 2, level: 2 }) });
    await settle();
    // Both are in flight; the write-through lands first, then the older batch.
    store.release();
    await wt;
    await settle();
    assert.equal(store.rows.get(1)!.level, 2);
    assert.equal(store.rows.get(1)!.x, 2);
    assert.equal(store.rows.get(1)!.version, 2);
  });

  test('a plain dirty state older than a write-through is dropped, not written over it later', async () => {
    const { store, q } = setup(1);
    q.markDirty(1, snap(1, { x: 1 }));
    await q.writeThrough({ playerId: 1, kind: 'level_up', data: { level: 2 }, state: snap(1, { x: 2, level: 2 }) });
    q.tick();
    await settle();
    assert.equal(store.count('savePlayers'), 0);
    assert.equal(store.rows.get(1)!.x, 2);
  });
});

describe('flush and close', () => {
  test('flush writes everything now, without waiting for the interval', async () => {
    const { store, q } = setup(3, { intervalMs: 60_000 });
    for (let i = 1; i <= 3; i++) q.markDirty(i, snap(i, { x: i }));
    const wt = q.writeThrough({ playerId: 1, kind: 'level_up', data: { level: 2 }, state: snap(1, { x: 1, level: 2 }) });
    assert.deepEqual(await q.flush(), { complete: true, unsavedPlayers: 0, unsavedEvents: 0 });
    await wt;
    for (let i = 1; i <= 3; i++) assert.equal(store.rows.get(i)!.x, i);
    assert.equal(store.rows.get(1)!.level, 2);
  });

  test('flush retries through a short outage', async () => {
    const { store, q } = setup(1);
    store.failing = true;
    q.markDirty(1, snap(1, { x: 3 }));
    setTimeout(() => (store.failing = false), 50);
    const r = await q.flush(5000);
    assert.equal(r.complete, true);
    assert.equal(store.rows.get(1)!.x, 3);
  });

  test('close with the database down reports what is unsaved and rejects unconfirmed events with MMO_ERR_PERSIST_CLOSED', async () => {
    const { store, q } = setup(2);
    store.failing = true;
    q.markDirty(1, snap(1, { x: 3 }));
    const wt = q.writeThrough({ playerId: 2, kind: 'level_up', data: { level: 2 }, state: snap(2, { level: 2 }) });
    const r = await q.close(80);
    assert.equal(r.complete, false);
    assert.equal(r.unsavedPlayers, 1);
    assert.equal(r.unsavedEvents, 1);
    await assert.rejects(wt, (e: unknown) => e instanceof PersistError && e.code === 'MMO_ERR_PERSIST_CLOSED');
    assert.throws(() => q.markDirty(1, snap(1)), (e: unknown) => e instanceof PersistError && e.code === 'MMO_ERR_PERSIST_CLOSED');
  });
});

describe('gauges', () => {
  test('queue depth, pending events, oldest unsaved age and database up reflect the queue', async () => {
    let now = 1_000_000;
    const { store, q, registry } = setup(2, { now: () => now });
    q.markDirty(1, snap(1));
    now += 1500;
    q.markDirty(2, snap(2));
    store.hold();
    const wt = q.writeThrough({ playerId: 2, kind: 'level_up', data: { level: 2 }, state: snap(2, { level: 2 }) });
    await settle();
    assert.equal(q.queueDepth, 1, 'player 2\'s plain state was superseded by the write-through');
    assert.equal(q.throughPending, 1);
    assert.equal(q.oldestUnsavedSeconds, 1.5);
    const text = await registry.metrics();
    assert.match(text, /^mmo_persist_queue_depth 1$/m);
    assert.match(text, /^mmo_persist_through_pending 1$/m);
    assert.match(text, /^mmo_persist_oldest_unsaved_seconds 1\.5$/m);
    assert.match(text, /^mmo_persist_db_up 1$/m);
    store.release();
    await wt;
    q.tick();
    await settle();
    assert.equal(q.oldestUnsavedSeconds, 0);
    store.failing = true;
    q.markDirty(1, snap(1, { x: 1 }));
    q.tick();
    await settle();
    assert.match(await registry.metrics(), /^mmo_persist_db_up 0$/m);
    assert.match(await registry.metrics(), /^mmo_persist_failures_total\{kind="behind"\} 1$/m);
  });
});

describe('property: whatever the interleaving of changes, ticks and outages', () => {
  test('after recovery and a flush every row holds the last state given and every acknowledged event is stored', async () => {
    type Cmd =
      | { t: 'dirty'; p: number; x: number; fn: boolean }
      | { t: 'through'; p: number; x: number }
      | { t: 'tick' }
      | { t: 'fail'; on: boolean }
      | { t: 'hold' }
      | { t: 'release' }
      | { t: 'wait' };
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      { arbitrary: fc.record({ t: fc.constant('dirty' as const), p: fc.integer({ min: 1, max: 3 }), x: fc.integer({ min: 0, max: 1000 }), fn: fc.boolean() }), weight: 3 },
      { arbitrary: fc.record({ t: fc.constant('through' as const), p: fc.integer({ min: 1, max: 3 }), x: fc.integer({ min: 0, max: 1000 }) }), weight: 2 },
      { arbitrary: fc.constant({ t: 'tick' as const }), weight: 3 },
      { arbitrary: fc.record({ t: fc.constant('fail' as const), on: fc.boolean() }), weight: 2 },
      { arbitrary: fc.constant({ t: 'hold' as const }), weight: 1 },
      { arbitrary: fc.constant({ t: 'release' as const }), weight: 1 },
      { arbitrary: fc.constant({ t: 'wait' as const }), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 40 }), async (cmds) => {
        const { store, q } = setup(3, { retryMinMs: 1, retryMaxMs: 2 });
        const last = new Map<number, PlayerSnapshot>();
        const live = new Map<number, PlayerSnapshot>();
        const acked: string[] = [];
        const throughs: Array<Promise<unknown>> = [];
        let n = 0;
        for (const c of cmds) {
          switch (c.t) {
            case 'dirty': {
              const s = snap(c.p, { x: c.x });
              last.set(c.p, s);
              if (c.fn) {
                live.set(c.p, s);
                q.markDirty(c.p, () => live.get(c.p) ?? null);
              } else {
                live.delete(c.p);
                q.markDirty(c.p, s);
              }
              break;
            }
            case 'through': {
              const s = snap(c.p, { x: c.x, level: 2 });
              last.set(c.p, s);
              // The game's live state moves on with the event.
              if (live.has(c.p)) live.set(c.p, s);
              const id = `e${n++}`;
              throughs.push(q.writeThrough({ playerId: c.p, kind: 'level_up', data: { level: 2 }, state: s, id }).then(() => acked.push(id)));
              break;
            }
            case 'tick':
              q.tick();
              break;
            case 'fail':
              store.failing = c.on;
              break;
            case 'hold':
              store.hold();
              break;
            case 'release':
              store.release();
              break;
            case 'wait':
              await settle(2);
              break;
          }
          await settle();
        }
        for (const id of acked) assert.ok(store.events.has(id), `acknowledged ${id} is stored`);
        store.failing = false;
        store.release();
        const r = await q.flush(5000);
        assert.equal(r.complete, true);
        await Promise.all(throughs);
        for (const [p, s] of last) assert.deepEqual(state(store.rows.get(p)), s, `player ${p}`);
        assert.equal(store.events.size, n);
      }),
      { numRuns: 150, seed: 42 },
    );
  });
});
