// Crash consistency on SQLite: the persistence stack under load in a child
// process, killed with SIGKILL at 20 seeded-random moments, checked after
// each; then stopped with SIGTERM, which must lose nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { StoreConfig } from '../src/persist/open-store.js';
import type { AckLog } from './helpers/crash-check.js';
import { checkStore, producerPlayerIds, runLengths, runProducer } from './helpers/crash-run.js';
import { tempDir } from './helpers/server.js';

const PLAYERS = 24;
const INTERVAL_MS = 200;
const KILLS = 20;
// Loss bound: one interval for the change to be picked up, the batch's own
// write time, plus scheduling slack for a shared 2-core machine.
const SLACK_MS = 300;

test(`SQLite: ${KILLS} SIGKILLs under load lose no acknowledged event, corrupt no row, and lose at most one interval of write-behind; SIGTERM loses nothing`, async (t) => {
  const store: StoreConfig = { kind: 'sqlite', file: join(tempDir('mmo-crash-'), 'crash.sqlite'), synchronous: 'full' };
  const players = producerPlayerIds(PLAYERS);
  const allAcked: AckLog['acked'] = [];
  const windows: number[] = [];
  let lost = 0;
  const lengths = runLengths(20261121, KILLS, 150, 900);
  for (let i = 0; i < KILLS; i++) {
    const r = await runProducer({ store, players: PLAYERS, intervalMs: INTERVAL_MS, runId: `k${i}`, seed: i + 1, runMs: lengths[i]!, signal: 'SIGKILL' });
    assert.equal(r.signal, 'SIGKILL', `run ${i} died of ${r.signal ?? r.exitCode}: ${r.stderr.slice(-500)}`);
    assert.ok(r.log.changes.size > 0 && r.log.batches.length > 0, `run ${i} produced load and batches`);
    allAcked.push(...r.log.acked);
    const maxBatchMs = Math.max(0, ...r.log.batches.map((b) => b.committedAt - b.takenAt));
    const report = await checkStore(store, r.log, allAcked, INTERVAL_MS + maxBatchMs + SLACK_MS, players);
    assert.deepEqual(report.violations, [], `run ${i} (killed after ${lengths[i]} ms)`);
    assert.equal(report.storedEvents, allAcked.length);
    windows.push(report.lossWindowMs);
    lost += report.lostChanges;
  }
  assert.ok(allAcked.length > 50, `enough write-through acknowledgements to mean something (${allAcked.length})`);
  t.diagnostic(`${KILLS} kills: ${allAcked.length} acknowledged events all present; ${lost} unacknowledged changes lost; loss window max ${Math.max(...windows)} ms, median ${windows.sort((a, b) => a - b)[windows.length >> 1]} ms (interval ${INTERVAL_MS} ms)`);

  const term = await runProducer({ store, players: PLAYERS, intervalMs: INTERVAL_MS, runId: 'term', seed: 99, runMs: 500, signal: 'SIGTERM' });
  assert.equal(term.exitCode, 0, term.stderr);
  assert.deepEqual(term.log.flushed, { complete: true });
  allAcked.push(...term.log.acked);
  const report = await checkStore(store, term.log, allAcked, INTERVAL_MS, players);
  assert.deepEqual(report.violations, []);
  assert.equal(report.lostChanges, 0);
  assert.ok(term.log.issued.length > 0 && term.log.acked.length === term.log.issued.length);
});
