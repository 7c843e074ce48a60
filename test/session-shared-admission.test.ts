// Admission in shared memory (the gateway on several threads): the same rules
// as the single-threaded Admission, and one budget whichever thread asks.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { SharedAdmission } from '../src/session/shared-admission.js';
import { Admission, type AdmissionConfig } from '../src/session/admission.js';
import { BudgetAction } from '../src/session/budget.js';

const cfg: AdmissionConfig = {
  handshakesPerSec: 100,
  handshakeBurst: 100,
  resumeReserve: 0.5,
  perAddressLoginsPerSec: 2,
  perAddressLoginBurst: 4,
  perAddressResumesPerSec: 50,
  perAddressResumeBurst: 100,
  maxTrackedAddresses: 1000,
};

describe('shared admission', () => {
  test('per-address login limit, with a retry hint that works', () => {
    const a = SharedAdmission.create(cfg, 0);
    for (let i = 0; i < 4; i++) assert.equal(a.admit('10.0.0.1', -1, 0), 0);
    const retry = a.admit('10.0.0.1', -1, 0);
    assert.equal(retry, 500);
    assert.equal(a.admit('10.0.0.2', -1, 0), 0, 'other addresses are unaffected');
    assert.equal(a.admit('10.0.0.1', -1, retry), 0, 'retrying after the hint succeeds');
    assert.equal(a.stats.refusedAddress, 1);
  });

  test('resumes of live sessions are admitted ahead of fresh logins; a claim for no session is a login', () => {
    const a = SharedAdmission.create(cfg, 0);
    let logins = 0;
    for (let i = 0; i < 200; i++) if (a.admit(`10.1.${i >> 8}.${i & 255}`, -1, 0) === 0) logins++;
    assert.equal(logins, 50, 'fresh logins stop at the resume reserve (half the burst)');
    assert.ok(a.admit('10.5.0.1', 12345, 0) > 0, 'a forged claim waits with the logins');
    for (let id = 1; id <= 200; id++) a.noteSession(id * 7919, true);
    let resumes = 0;
    for (let i = 0; i < 200; i++) if (a.admit(`10.2.${i >> 8}.${i & 255}`, (i + 1) * 7919, 0) === 0) resumes++;
    assert.equal(resumes, 50, 'resumes may use the reserve');
    assert.equal(a.stats.admittedLogins, 50);
    assert.equal(a.stats.admittedResumes, 50);
    a.noteSession(7919, false);
    assert.equal(a.hasSession(7919), false, 'an ended session is no longer a resume');
    assert.equal(a.hasSession(2 * 7919), true);
  });

  test('a refusal by the global bucket does not spend the address budget', () => {
    const a = SharedAdmission.create({ ...cfg, handshakesPerSec: 1, handshakeBurst: 1, resumeReserve: 0 }, 0);
    assert.equal(a.admit('10.0.0.9', -1, 0), 0);
    assert.ok(a.admit('10.0.0.9', -1, 0) > 0);
    assert.equal(a.stats.refusedGlobal, 1);
    for (let i = 0; i < 3; i++) assert.equal(a.admit('10.0.0.9', -1, 1000 + i * 1000), 0);
  });

  test('two threads asking at once share one budget: the burst is granted once in all', async () => {
    const a = SharedAdmission.create({ ...cfg, perAddressLoginBurst: 1000, perAddressLoginsPerSec: 0.01, handshakeBurst: 1_000_000 }, 0);
    const start = new Int32Array(new SharedArrayBuffer(4));
    const url = new URL('./fixtures/shared-admission-worker.js', import.meta.url);
    const workers = [0, 1].map(() => new Worker(url, { workerData: { init: a.init, n: 5000, address: '10.7.7.7', start } }));
    const counts = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0] as number));
    assert.equal(counts[0]! + counts[1]!, 1000, `granted ${counts.join(' + ')}`);
    // Which thread got how many depends on the scheduler (one may finish before the other starts on a busy
    // machine): the contract is the sum, which per-thread budgets would make 2,000.
    assert.equal(a.stats.admittedLogins, 1000);
    assert.equal(a.stats.refusedAddress, 9000);
  });

  const costs = { handshake: 10, login: 40, resume: 5, move: 1, chat: 5 };
  const costed: AdmissionConfig = { ...cfg, perAddressLoginBurst: 1000, perAddressLoginsPerSec: 1000, budgetPerSec: 100, budgetBurst: 200, costs };

  test('one cost budget per address: handshakes spend it, and so do the inputs the main thread spends from it', () => {
    const a = SharedAdmission.create(costed, 0);
    // 200 units: a login handshake costs 10 + 40.
    for (let i = 0; i < 4; i++) assert.equal(a.admit('10.3.0.1', -1, 0), 0);
    assert.equal(a.admit('10.3.0.1', -1, 0), 1000, 'the fifth is over budget');
    assert.equal(a.stats.refusedBudget, 1);
    assert.equal(a.stats.refusedAddress, 0, 'refused by cost, not by the login bucket');
    // Inputs from an address whose handshakes spent its budget are refused too: one budget, not two.
    assert.equal(a.spendAddress('10.3.0.1', BudgetAction.move, 0), false);
    assert.equal(a.spendAddress('10.3.0.2', BudgetAction.move, 0), true, 'another address has its own');
    // 100 units a second refill: half a second buys one more login handshake.
    assert.equal(a.admit('10.3.0.1', -1, 500), 0);
  });

  test('moves spent on the main thread leave nothing for a handshake flood from the same address', () => {
    const a = SharedAdmission.create(costed, 0);
    let moves = 0;
    while (a.spendAddress('10.3.1.1', BudgetAction.move, 0)) moves++;
    assert.equal(moves, 200);
    assert.equal(a.admit('10.3.1.1', -1, 0), 1000);
  });

  test('the main thread Admission spends input costs from the shared table (Date.now() time base)', () => {
    const shared = SharedAdmission.create(costed, Date.now());
    const main = new Admission(costed, 0, shared);
    for (let i = 0; i < 4; i++) assert.equal(shared.admit('10.3.2.1', -1, Date.now()), 0);
    assert.equal(main.spendInput('10.3.2.1', 1, false, 0), false, 'the handshakes already spent the address budget');
    assert.equal(main.spendInput('10.3.2.2', 1, false, 0), true);
  });

  test('an input spending with the address key a connection keeps draws the same budget as by address', () => {
    // The shared table reads Date.now() (every thread can): held still here, so no refill lands mid-count.
    const realNow = Date.now;
    const t0 = realNow();
    Date.now = () => t0;
    try {
      const shared = SharedAdmission.create(costed, t0);
      const main = new Admission(costed, 0, shared);
      const key = main.addressKey('10.3.2.9');
      assert.equal(key, shared.addressKey('10.3.2.9'));
      assert.notEqual(key, main.addressKey('10.3.2.8'));
      let moves = 0;
      while (main.spendInput('10.3.2.9', 1000 + moves, false, 0, key)) moves++;
      assert.equal(moves, 200, 'the keyed spends exhaust the address budget');
      assert.equal(shared.spendAddress('10.3.2.9', BudgetAction.move, t0), false, 'and the address sees it spent');
      assert.equal(main.spendInput('10.3.2.8', 1, false, 0, main.addressKey('10.3.2.8')), true, 'another address has its own');
      assert.equal(new Admission(costed, 0, null).addressKey('10.3.2.9'), -1, 'no shared table: no key');
    } finally {
      Date.now = realNow;
    }
  });

  test('shedding set on the main thread holds on every thread: recent abusers refused, logins kept out of the reserve', () => {
    const a = SharedAdmission.create({ ...costed, handshakeBurst: 100, handshakesPerSec: 1 }, 0);
    const main = new Admission(costed, 0, a);
    while (a.spendAddress('10.3.3.1', BudgetAction.chat, 0)) {
      // spend the abuser's budget down
    }
    const view = new SharedAdmission(a.init); // as a gateway thread sees the same memory
    assert.equal(view.shedding, false);
    main.setShedding({ loginReserve: 0.9, abuserWindowMs: 10_000 });
    assert.equal(view.shedding, true);
    assert.equal(view.admit('10.3.3.1', -1, 5000), 10_000, 'an address that overran within the window is refused outright');
    assert.equal(view.stats.refusedShed, 1);
    let logins = 0;
    for (let i = 0; i < 50; i++) if (view.admit(`10.4.0.${i}`, -1, 5000) === 0) logins++;
    assert.equal(logins, 10, 'fresh logins may use only the tenth of the burst above the shed reserve');
    a.noteSession(4242, true);
    assert.equal(view.admit('10.4.1.1', 4242, 5000), 0, 'resumes still come in');
    main.setShedding(null);
    assert.equal(view.shedding, false);
    assert.equal(view.admit('10.3.3.1', -1, 5000 + 20_000), 0, 'after shedding the refilled address is admitted again');
  });
});
