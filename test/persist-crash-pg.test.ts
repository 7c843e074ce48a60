// Crash consistency on PostgreSQL: as persist-crash.test.ts, with the
// producer's database on a PostgreSQL server (MMO_TEST_PG_URL or a throwaway
// cluster). The client dies mid-transaction; the server must roll it back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { StoreConfig } from '../src/persist/open-store.js';
import type { AckLog } from './helpers/crash-check.js';
import { checkStore, producerPlayerIds, runLengths, runProducer } from './helpers/crash-run.js';
import { startPgCluster, type PgCluster } from './helpers/pg-cluster.js';

const PLAYERS = 24;
const INTERVAL_MS = 200;
const KILLS = 20;
const SLACK_MS = 300;

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  await cluster?.destroy();
});

test(`PostgreSQL: ${KILLS} SIGKILLs under load lose no acknowledged event, corrupt no row, and lose at most one interval of write-behind; SIGTERM loses nothing`, async (t) => {
  assert.ok(cluster, 'PostgreSQL cluster');
  const store: StoreConfig = { kind: 'postgres', url: await cluster.createDatabase(), poolSize: 4, connectTimeoutMs: 3000, statementTimeoutMs: 5000 };
  const players = producerPlayerIds(PLAYERS);
  const allAcked: AckLog['acked'] = [];
  const windows: number[] = [];
  const lengths = runLengths(777, KILLS, 150, 900);
  for (let i = 0; i < KILLS; i++) {
    const r = await runProducer({ store, players: PLAYERS, intervalMs: INTERVAL_MS, runId: `k${i}`, seed: i + 1, runMs: lengths[i]!, signal: 'SIGKILL' });
    assert.equal(r.signal, 'SIGKILL', `run ${i}: ${r.stderr.slice(-500)}`);
    assert.ok(r.log.batches.length > 0, `run ${i} committed batches`);
    allAcked.push(...r.log.acked);
    const maxBatchMs = Math.max(0, ...r.log.batches.map((b) => b.committedAt - b.takenAt));
    const report = await checkStore(store, r.log, allAcked, INTERVAL_MS + maxBatchMs + SLACK_MS, players);
    assert.deepEqual(report.violations, [], `run ${i} (killed after ${lengths[i]} ms)`);
    windows.push(report.lossWindowMs);
  }
  assert.ok(allAcked.length > 50, `${allAcked.length} acknowledgements`);
  t.diagnostic(`${KILLS} kills: ${allAcked.length} acknowledged events all present; loss window max ${Math.max(...windows)} ms (interval ${INTERVAL_MS} ms)`);

  const term = await runProducer({ store, players: PLAYERS, intervalMs: INTERVAL_MS, runId: 'term', seed: 99, runMs: 500, signal: 'SIGTERM' });
  assert.equal(term.exitCode, 0, term.stderr);
  assert.deepEqual(term.log.flushed, { complete: true });
  allAcked.push(...term.log.acked);
  const report = await checkStore(store, term.log, allAcked, INTERVAL_MS, players);
  assert.deepEqual(report.violations, []);
  assert.equal(report.lostChanges, 0);
});
