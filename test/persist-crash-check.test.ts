// The crash checker itself must catch what it claims to: each rule is broken
// on purpose here and must be reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStore } from '../src/persist/sqlite-store.js';
import { checkDurability, parseAckLines } from './helpers/crash-check.js';
import { genOf, stateAt } from './fixtures/synthetic-state.js';
import { newAccount } from './helpers/store-contract.js';
import { tempDir } from './helpers/server.js';

async function fixture() {
  const store = new SqliteStore({ file: join(tempDir(), 'c.sqlite'), synchronous: 'normal' });
  await store.migrate();
  const ids: number[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await store.createAccount({ ...newAccount(`c${i}`), player: stateAt(i + 1, 0) });
    assert.ok(r.ok);
    ids.push(r.player.id);
  }
  const put = async (id: number, gen: number, version: number) => store.savePlayers([{ ...stateAt(id, gen), id, accountId: id, name: `c${id - 1}`, version, updatedAt: 1 }]);
  return { store, ids, put, opts: { players: ids, genOf, stateAt, lossBoundMs: 300 } };
}

test('a consistent database passes, and the log parser tolerates a torn last line', async () => {
  const { store, put, opts } = await fixture();
  await put(1, 5, 1);
  await store.writeEvents([{ event: { id: 'e1', playerId: 1, kind: 'level_up', data: {}, at: 1 }, player: { ...stateAt(1, 5), id: 1, accountId: 1, name: 'c0', version: 2, updatedAt: 1 } }]);
  // The last line was cut by the kill: it is set aside, not misread.
  const log = parseAckLines('R 1000\nM 1 4 1001\nW e1 1 5 1002\nE e1 1 5 1010\nM 2 1 1900\nB 1003 1004 1\nM 1 6');
  assert.deepEqual(log.junk, ['M 1 6']);
  assert.equal(log.lastT, 1900);
  const r = await checkDurability(store, log, opts);
  // Player 2's change at 1900 is lost, 0 ms before the producer's last line: within the bound.
  assert.deepEqual(r.violations, []);
  assert.equal(r.lostChanges, 1);
  assert.equal(r.storedEvents, 1);
  await store.close();
});

test('each broken rule is reported', async () => {
  const { store, put, opts } = await fixture();
  await put(1, 3, 1);
  // Missing event, row older than an acknowledged event.
  let r = await checkDurability(store, parseAckLines('R 0\nW ghost 1 9 10\nE ghost 1 9 20\n'), opts);
  assert.ok(r.violations.some((v) => /acknowledged event ghost .* missing/.test(v)), r.violations.join('\n'));
  assert.ok(r.violations.some((v) => /older than acknowledged event ghost/.test(v)));
  // A torn row: generation 3 with a field of generation 4.
  await store.savePlayers([{ ...stateAt(1, 3), x: stateAt(1, 4).x, id: 1, accountId: 1, name: 'c0', version: 2, updatedAt: 1 }]);
  r = await checkDurability(store, parseAckLines('R 0\n'), opts);
  assert.ok(r.violations.some((v) => /player 1 is corrupt/.test(v)), r.violations.join('\n'));
  // Write-behind loss older than the bound.
  await put(1, 3, 3);
  r = await checkDurability(store, parseAckLines('R 0\nM 1 4 1000\nM 2 1 5000\n'), opts);
  assert.ok(r.violations.some((v) => /lost changes 4000 ms old, over the bound of 300 ms/.test(v)), r.violations.join('\n'));
  // Any loss after a graceful stop, and an unacknowledged write-through.
  r = await checkDurability(store, parseAckLines('R 0\nM 1 4 1000\nW w9 2 1 1001\nF true 1002\n'), opts);
  assert.ok(r.violations.some((v) => /lost after a graceful stop/.test(v)));
  assert.ok(r.violations.some((v) => /w9 issued but never acknowledged/.test(v)));
  await store.close();
});
