// ClaimKeeper (src/cluster/account-claim.ts) with a stand-in for the claims
// connection: what a login is told for each claim result; a login on the node
// that still holds the claim of a session that just ended waits until that
// session's final state is handed in (bounded, then refused with a retry);
// a claim is released only once nothing of its account is here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClaimKeeper, CLAIM_REFUSED, CLAIM_UNAVAILABLE, STILL_LEAVING } from '../src/cluster/account-claim.js';
import { ClaimResult, type AccountClaims } from '../src/persist/account-claims.js';

function fakeClaims(result: ClaimResult = ClaimResult.taken) {
  const held = new Set<number>();
  const released: number[] = [];
  const c = {
    result,
    size: 0,
    lost: 0,
    holds: (a: number) => held.has(a),
    accounts: () => [...held],
    take: (a: number) => {
      if (c.result === ClaimResult.taken) held.add(a);
      return Promise.resolve(c.result);
    },
    release: (a: number) => {
      held.delete(a);
      released.push(a);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  return { c, held, released, claims: c as unknown as AccountClaims };
}

async function settled<T>(p: Promise<T>): Promise<{ done: boolean; value?: T }> {
  let out: { done: boolean; value?: T } = { done: false };
  void p.then((value) => (out = { done: true, value }));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return out;
}

test('claim keeper: a login goes ahead with the claim; held elsewhere or unreachable, it is refused with a retry-after, counted', async () => {
  const f = fakeClaims();
  const k = new ClaimKeeper(f.claims, { holds: () => false, leaving: () => false, waitMs: 1000 });
  assert.equal(await k.take(1), null);
  f.c.result = ClaimResult.heldElsewhere;
  assert.equal(await k.take(2), CLAIM_REFUSED);
  f.c.result = ClaimResult.unavailable;
  assert.equal(await k.take(3), CLAIM_UNAVAILABLE);
  assert.deepEqual([k.refused, k.unavailable], [1, 1]);
  for (const text of [CLAIM_REFUSED, CLAIM_UNAVAILABLE, STILL_LEAVING]) assert.match(text, /retry-after-ms=\d+$/, 'the client retries after the advertised delay');
});

test('claim keeper: a login while the account\'s last session here is still leaving its zone waits for its final state; too long, refused', async () => {
  const f = fakeClaims();
  let leaving = true;
  const k = new ClaimKeeper(f.claims, { holds: () => true, leaving: () => leaving, waitMs: 60_000 });
  const p = k.take(5);
  assert.equal((await settled(p)).done, false, 'not while the final state is on its way');
  leaving = false;
  assert.equal(await p, null, 'then it loads (read-your-writes gives it that state)');

  const quick = new ClaimKeeper(f.claims, { holds: () => true, leaving: () => true, waitMs: 30 });
  assert.equal(await quick.take(6), STILL_LEAVING, 'a zone that never answers does not hold the login forever');
});

test('claim keeper: a claim is released only once nothing of its account is here; the sweep releases every free one', async () => {
  const f = fakeClaims();
  const here = new Set([1, 2, 3]);
  const k = new ClaimKeeper(f.claims, { holds: (a) => here.has(a), leaving: () => false, waitMs: 1000 });
  for (const a of [1, 2, 3]) assert.equal(await k.take(a), null);
  await k.releaseIfFree(1);
  assert.deepEqual(f.released, [], 'still live here');
  here.delete(1);
  here.delete(3);
  await k.sweep();
  assert.deepEqual(f.released.sort(), [1, 3]);
  assert.deepEqual([...f.held], [2]);
  assert.equal(k.released, 2);
  await k.releaseIfFree(9); // never held: nothing to do
  assert.deepEqual(f.released.sort(), [1, 3]);
});
