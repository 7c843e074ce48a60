// Two logins of one account at the same instant on two nodes, over a real
// nats-server and one PostgreSQL database (test/helpers/cluster.ts). Each
// node first asks the other to let go of the account; asked at the same
// time, both hear "nothing here" and, without more, both would load the
// player: one account live twice. The account claim in the shared database
// (src/persist/account-claims.ts) lets only one load: the other login is
// refused 4200 with a retry-after, or (when the two are far enough apart)
// becomes a takeover of the first. Each round: raw clients send the same
// account's Hello to both nodes in one turn; exactly one session is live
// after it, and it loaded the state the previous round's player had when it
// logged out (its last move is acknowledged just before the logout, so only
// the logout's final state carries it). Even rounds start once the last
// winner's node has written that state and released the claim (a race for a
// free claim); odd rounds at once (the last winner's node still holds the
// claim, its session's final state maybe still on its way from the zone).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { metricValue, type TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { RawClient } from './helpers/raw-client.js';
import { register, ChatChannel } from '../src/client/index.js';
import { CloseCode } from '../src/protocol/close-codes.js';

const ROUNDS = 12;

let cluster: TestCluster;
let a: TestServer;
let b: TestServer;
let address = 0;
const raws: RawClient[] = [];

before(async () => {
  cluster = await startCluster({
    nodes: [
      { id: 'a', zones: [1] },
      { id: 'b', zones: [2] },
    ],
 // A claim goes once its account's final state is written: writes every 250 ms keep the even rounds short.
    args: ['--persist.writeIntervalMs=250', '--world.movement.maxSpeed=64', '--admission.accountBudgetPerSec=100000', '--admission.accountBudgetBurst=100000'],
  });
  [a, b] = cluster.nodes as [TestServer, TestServer];
});

after(async () => {
  for (const r of raws) if (!r.closed) r.drop();
  await cluster?.stop();
});

async function raw(url: string): Promise<RawClient> {
  const r = await RawClient.open(url, { localAddress: `127.0.8.${1 + (address++ % 250)}` });
  raws.push(r);
  return r;
}

/** Sessions (live or zombie) the two nodes hold between them. */
async function sessions(): Promise<number> {
  let n = 0;
  for (const s of [a, b]) n += ((await metricValue(s.url, 'mmo_sessions{state="connected"}')) ?? 0) + ((await metricValue(s.url, 'mmo_sessions{state="zombie"}')) ?? 0);
  return n;
}

/** Account claims the two nodes hold between them. */
async function claimsHeld(): Promise<number> {
  let n = 0;
  for (const s of [a, b]) n += (await metricValue(s.url, 'mmo_cluster_account_claims')) ?? 0;
  return n;
}

const live = (r: RawClient): boolean => r.closed === null && r.find('welcome') !== undefined;

test('the same account\'s Hello on two nodes at once, round after round: one session live each time, loaded from the last save', { timeout: 120_000 }, async (t) => {
  const grant = await register(a.url, { name: 'twin', password: 'a-long-password' });
  let expectX: number | null = null;
  const outcomes: string[] = [];
  let rejectedMoves = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await waitFor(async () => (await sessions()) === 0, 10_000, `round ${round}: the last round's session to end`);
    if (round % 2 === 0) await waitFor(async () => (await claimsHeld()) === 0, 10_000, `round ${round}: the claim released`);
    const [ra, rb] = await Promise.all([raw(a.wsUrl), raw(b.wsUrl)]);
    // One turn: the two Hellos leave together.
    ra.hello(null, grant.token);
    rb.hello(null, grant.token);
    await Promise.all([ra, rb].map((r) => r.until(() => r.find('welcome') !== undefined || r.closed !== null, 15_000, 'a welcome or a close')));
    // A login that came second may still be taking the first one's session over: wait for the outcome.
    await waitFor(
      async () => [ra, rb].filter(live).length === 1 && (await sessions()) === 1,
      10_000,
      () => `round ${round}: one session live; sockets ${JSON.stringify([ra, rb].map((r) => ({ welcome: r.find('welcome') !== undefined, closed: r.closed })))}`,
    );
    const winner = live(ra) ? ra : rb;
    const loser = winner === ra ? rb : ra;
    assert.ok(loser.closed, 'the other socket is closed');
    assert.ok(
      loser.closed.code === CloseCode.tryAgainLater || loser.closed.code === CloseCode.takenOver,
      `the other login was refused with a retry-after or taken over: ${JSON.stringify(loser.closed)}`,
    );
    if (loser.closed.code === CloseCode.tryAgainLater) assert.match(loser.closed.reason, /retry-after-ms=\d+/);
    outcomes.push(`${winner === ra ? 'a' : 'b'}:${loser.closed.code}`);

    await winner.until(() => winner.find('snapshot') !== undefined, 10_000, 'the snapshot');
    const self = winner.find('snapshot')!.self!;
    if (expectX !== null) assert.ok(Math.abs(self.x - expectX) < 0.05, `round ${round}: loaded where the last round's player logged out (${expectX}): at ${self.x}; outcomes ${outcomes.join(' ')}`);
    // Walk a little and log out: the logout's save is what the next round must load.
    const x = self.x + (self.x < 64 ? 1.5 : -1.5);
    winner.send(winner.b.move(1, x, self.y));
    // A say after it comes back once the zone has handled the move (in order, after any MoveRejected for it).
    winner.send(winner.b.chat(2, ChatChannel.Say, `mark ${round}`));
    await winner.until(() => winner.messages().some((m) => m.type === 'chat' && m.text === `mark ${round}`), 10_000, 'the zone to handle the move');
    const refused = winner.find('moveRejected');
    winner.close(1000);
    await winner.until(() => winner.closed !== null, 10_000, 'the logout');
    expectX = refused ? refused.x : x;
    if (refused) rejectedMoves++;
  }
  t.diagnostic(`winner:close code of the other, per round: ${outcomes.join(' ')}; moves refused by the zone: ${rejectedMoves}`);
  const refused = ((await metricValue(a.url, 'mmo_cluster_account_claims_refused_total')) ?? 0) + ((await metricValue(b.url, 'mmo_cluster_account_claims_refused_total')) ?? 0);
  t.diagnostic(`logins refused by the claim: ${refused} of ${ROUNDS} rounds`);
  assert.equal(refused, outcomes.filter((o) => o.endsWith(`:${CloseCode.tryAgainLater}`)).length, 'every 4200 was the claim\'s');
});
