// One account on several nodes at once, over a real nats-server and one
// PostgreSQL database (test/helpers/cluster.ts). Periodic saves are far
// apart (persist.writeIntervalMs 60 s), so the only way the second node can
// load what the player did on the first is that the first ended its session
// and saved it before the second loaded it. A login on node B to an account
// playing on node A ends A's session as a takeover does (A's socket gets
// 4100) and B's player stands where A's was; the same from a zombie session
// (link dropped, not yet expired) on B to a login on A. Then B, the gateway
// of two players in A's zone, is SIGKILLed: A saves them from its zone, and
// logins right away on A and on a third node C load that state.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { metricValue, type TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { connect, register, type MmoClient } from '../src/client/index.js';
import { CloseCode } from '../src/protocol/close-codes.js';

let cluster: TestCluster;
let a: TestServer;
let b: TestServer;
let c3: TestServer;
const clients: MmoClient[] = [];

before(async () => {
  cluster = await startCluster({
    nodes: [
      { id: 'a', zones: [1] },
      { id: 'b', zones: [2] },
      { id: 'c', zones: [3] },
    ],
    zoneCount: 3,
    args: ['--persist.writeIntervalMs=60000', '--world.movement.maxSpeed=64', '--sessions.zombieTtlMs=60000'],
  });
  [a, b, c3] = cluster.nodes as [TestServer, TestServer, TestServer];
});

after(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});

function client(url: string, token: string): MmoClient {
  const c = connect(url, { token, localAddress: `127.0.6.${1 + (clients.length % 250)}` });
  clients.push(c);
  return c;
}

/** Walks the player a few steps along x and waits until the server acknowledged them; the x it stands at. */
async function walk(c: MmoClient, dx: number): Promise<number> {
  let x = c.self!.x;
  let seq = 0;
  for (let i = 0; i < 4; i++) {
    x += dx / 4;
    seq = c.move(x, c.self!.y);
    await sleep(60);
  }
  await waitFor(() => c.ackedInput >= seq && Math.abs(c.self!.x - x) < 0.05, 5000, () => `the walk acknowledged: at ${c.self?.x}, want ${x}`);
  return x;
}

test('a login on node B to an account playing on node A: A\'s session ends (4100, saved), B loads where the player stood on A', { timeout: 60_000 }, async (t) => {
  const grant = await register(a.url, { name: 'hero', password: 'a-long-password' });
  const first = client(a.wsUrl, grant.token);
  await first.once('snapshot');
  const startX = first.self!.x;
  const x = await walk(first, 6);
  const kicked = first.once('kicked');
  const closed = first.once('close');

  const t0 = performance.now();
  const second = client(b.wsUrl, grant.token);
  const snap = second.once('snapshot');
  const w = await second.once('welcome');
  t.diagnostic(`login on B with the account live on A: welcome after ${Math.round(performance.now() - t0)} ms (A ended, saved and answered first)`);
  await snap;
  assert.equal(w.resumed, false);
  assert.ok(Math.abs(second.self!.x - x) < 0.05, `B's player stands where it walked to on A (${x}, from ${startX}), not at the stored ${startX}: at ${second.self!.x}`);
  const told = await Promise.race([kicked, sleep(5000).then(() => null)]);
  assert.equal(told?.code, CloseCode.takenOver, 'A\'s socket is told its session was taken over');
  assert.equal((await closed).code, CloseCode.takenOver);
  assert.equal(await metricValue(a.url, 'mmo_cluster_sessions_taken_over_total'), 1);
  assert.equal(await metricValue(b.url, 'mmo_cluster_login_checks_total'), 1);
  assert.equal(await metricValue(b.url, 'mmo_cluster_login_checks_refused_total'), 0);
  await waitFor(async () => ((await metricValue(a.url, 'mmo_sessions{state="connected"}')) ?? 0) + ((await metricValue(a.url, 'mmo_sessions{state="zombie"}')) ?? 0) === 0, 5000, 'A to hold no session of the account');

  // The other way, from a zombie: B's player walks on, drops its link (a zombie on B), and logs in on A.
  const x2 = await walk(second, -5);
  second.drop();
  await waitFor(async () => ((await metricValue(b.url, 'mmo_sessions{state="zombie"}')) ?? 0) >= 1, 5000, 'B to hold the dropped session as a zombie');
  const third = client(a.wsUrl, grant.token);
  const snap3 = third.once('snapshot');
  await third.once('welcome');
  await snap3;
  assert.ok(Math.abs(third.self!.x - x2) < 0.05, `A's player stands where the zombie on B was (${x2}): at ${third.self!.x}`);
  assert.equal(await metricValue(b.url, 'mmo_cluster_sessions_taken_over_total'), 1);
  await waitFor(async () => ((await metricValue(b.url, 'mmo_sessions{state="zombie"}')) ?? 0) === 0, 5000, 'B\'s zombie ended');
  // A plays on with it.
  const x3 = await walk(third, 3);
  assert.ok(x3 > x2);
});

test('node B is SIGKILLed while its players are in A\'s zone: A saves their final state from its zone; a login right away on A, or on a third node C, loads it', { timeout: 60_000 }, async () => {
  const rover = await register(a.url, { name: 'rover', password: 'a-long-password' });
  const wanderer = await register(a.url, { name: 'wanderer', password: 'a-long-password' });
  // B places each new player in its emptiest zone (ties: the first): two guests fill zones 2 and 3 so both land in A's zone 1.
  const onB = client(b.wsUrl, rover.token);
  await onB.once('snapshot');
  for (const g of ['g2', 'g3']) {
    const c = connect(b.wsUrl, { guestName: g, localAddress: `127.0.6.${200 + clients.length}` });
    clients.push(c);
    await c.once('snapshot');
  }
  const onB2 = client(b.wsUrl, wanderer.token);
  await onB2.once('snapshot');
  assert.deepEqual([onB.zone, onB2.zone], [1, 1], 'B\'s players are in A\'s zone');
  const [x, x2] = await Promise.all([walk(onB, 7), walk(onB2, -6)]);
  await b.stop('SIGKILL');
  // At once: A and C still count B alive, so the logins wait for B's answer; then (B gone) for A's save of B's players.
  const onC = client(c3.wsUrl, rover.token);
  const onA = client(a.wsUrl, wanderer.token);
  const snaps = Promise.all([onC.once('snapshot'), onA.once('snapshot')]);
  await Promise.all([onC.once('welcome'), onA.once('welcome')]);
  await snaps;
  assert.ok(Math.abs(onC.self!.x - x) < 0.05, `the player logged in on C stands where it walked to in A's zone (${x}): at ${onC.self!.x}`);
  assert.ok(Math.abs(onA.self!.x - x2) < 0.05, `the player logged in on A stands where it walked to in A's zone (${x2}): at ${onA.self!.x}`);
  assert.equal(await metricValue(a.url, 'mmo_cluster_orphan_saves_total'), 2);
});
