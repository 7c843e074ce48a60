// Account claims (src/persist/account-claims.ts) on a real PostgreSQL, as two
// nodes would hold them: one node's claim keeps the other out until it is
// released; taking a claim twice on one node needs one release, not two; a
// node whose connection dies loses its claims to the others at once, and on
// reconnect takes back those nobody took and reports the ones it lost. Also
// Persistence.holdsAccount, which says when a claim may go: while the
// player loads, while it is tracked, not once its final state is written.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AccountClaims, ClaimResult, CLAIM_SPACE } from '../src/persist/account-claims.js';
import { Persistence } from '../src/persist/persistence.js';
import { startPgCluster, type PgCluster } from './helpers/pg-cluster.js';
import { captureLogger } from './helpers/fake-store.js';
import { waitFor } from './helpers/wait.js';
import { SPAWN } from './helpers/store-contract.js';

let pgc: PgCluster;
let url: string;
const open: AccountClaims[] = [];

before(async () => {
  pgc = await startPgCluster();
  url = await pgc.createDatabase();
});

after(async () => {
  for (const c of open) await c.close();
  await pgc?.destroy();
});

async function node(onLost: (a: number) => void = () => undefined, beforeReconnect?: () => Promise<void>): Promise<AccountClaims> {
  const c = await AccountClaims.open({ url, connectTimeoutMs: 5000, statementTimeoutMs: 5000, log: captureLogger().log, onLost, reconnectMs: 20, beforeReconnect });
  open.push(c);
  return c;
}

/** The backend holding account `a`'s claim, from the server's lock table. */
async function holderPid(a: number): Promise<number | null> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted", [CLAIM_SPACE, a]);
    return r.rows[0]?.pid ?? null;
  } finally {
    await c.end();
  }
}

test('claims: one node at a time per account; a second take on the holder is the same claim; release lets the other in', async () => {
  const a = await node();
  const b = await node();
  assert.equal(await a.take(7), ClaimResult.taken);
  assert.equal(await b.take(7), ClaimResult.heldElsewhere);
  assert.equal(await b.take(8), ClaimResult.taken, 'another account is free');
  // Twice on a, at once and after: still one lock on its connection.
  assert.deepEqual(await Promise.all([a.take(7), a.take(7)]), [ClaimResult.taken, ClaimResult.taken]);
  assert.equal(a.size, 1);
  await a.release(7);
  assert.equal(a.holds(7), false);
  assert.equal(await b.take(7), ClaimResult.taken, 'one release was enough');
  assert.equal(await a.take(7), ClaimResult.heldElsewhere);
  await a.release(7); // not held by a: nothing happens to b's claim
  assert.equal(await holderPid(7), await holderPid(8), 'b holds both');
});

test('claims: a node whose connection dies loses its claims at once; on reconnect it takes back the free ones and reports the lost', async () => {
  const lost: number[] = [];
  let comeBack: () => void = () => undefined;
  const back = new Promise<void>((r) => (comeBack = r));
  const a = await node((acc) => lost.push(acc), () => back);
  const b = await node();
  assert.equal(await a.take(21), ClaimResult.taken);
  assert.equal(await a.take(22), ClaimResult.taken);
  const pid = await holderPid(21);
  assert.ok(pid);
  // A crash of a's connection (as a killed process's would be): the server ends the backend and its locks.
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  await admin.end();
  // b gets 21 as soon as the backend is gone (polled: another process's state).
  await waitFor(async () => (await b.take(21)) === ClaimResult.taken, 5000, 'b to take the dead connection\'s claim');
  await waitFor(() => !a.up, 5000, 'a to notice its connection is gone');
  assert.equal(await a.take(23), ClaimResult.unavailable, 'and claims nothing meanwhile');
  comeBack();
  await waitFor(() => a.reconnects >= 1 && a.up && a.lost + a.size === 2, 10_000, () => `a to reconnect and sort its claims: up ${a.up}, lost ${a.lost}, held ${a.size}`);
  assert.deepEqual(lost, [21], 'b had 21 meanwhile: a reports it lost');
  assert.equal(a.holds(21), false);
  assert.equal(a.holds(22), true, 'nobody took 22: a has it again');
  assert.equal(await b.take(22), ClaimResult.heldElsewhere);
  await a.close();
  assert.equal(await b.take(22), ClaimResult.taken, 'closing releases every claim');
});

test('claims: take() on a closed node is unavailable, never a throw', async () => {
  const a = await node();
  await a.close();
  assert.equal(await a.take(1), ClaimResult.unavailable);
  await a.release(1);
});

test('Persistence.holdsAccount: while the player loads, while it is tracked; not once its final state is written', async () => {
  const { log } = captureLogger();
  const p = await Persistence.open({ store: { kind: 'postgres', url, poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 5000 }, queue: { intervalMs: 60_000, retryMinMs: 100, retryMaxMs: 1000, maxPendingEvents: 100, maxEventsPerBatch: 100, alarmLogIntervalMs: 60_000 } }, log, null);
  try {
    const r = await p.store.createAccount({ name: 'Claimed', password: { hash: new Uint8Array(randomBytes(32)), salt: new Uint8Array(randomBytes(16)), logN: 10, r: 8, p: 1 }, createdAt: 1, player: SPAWN });
    assert.ok(r.ok);
    const account = r.account.id;
    assert.equal(p.holdsAccount(account), false);
    const loading = p.loadForLogin({ accountId: account, name: 'Claimed', guest: false, expiresAt: 0 }, SPAWN);
    assert.equal(p.holdsAccount(account), true, 'while its row is being read');
    const rec = await loading;
    assert.equal(p.holdsAccount(account), true, 'tracked: live');
    p.release(rec.id, { ...rec, x: 40 });
    assert.equal(p.holdsAccount(account), true, 'released, not written yet');
    assert.equal((await p.flush(5000)).complete, true);
    assert.equal(p.holdsAccount(account), false, 'written and forgotten');
    await assert.rejects(p.loadForLogin({ accountId: 999_999, name: 'Nobody', guest: false, expiresAt: 0 }, SPAWN));
    assert.equal(p.holdsAccount(999_999), false, 'a failed load holds nothing');
  } finally {
    await p.close(5000);
  }
});
