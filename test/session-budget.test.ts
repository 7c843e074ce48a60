import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Budget, BudgetAction, type BudgetConfig } from '../src/session/budget.js';
import { Admission, type AdmissionConfig } from '../src/session/admission.js';

const weights = { handshake: 20, login: 50, resume: 10, move: 1, chat: 10 };
const bcfg: BudgetConfig = { perSec: 100, burst: 200, weights, maxKeys: 1000 };

describe('cost budgets', () => {
  test('every action spends its own weight from one budget: a mix cannot exceed burst + rate x time', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(0, 1, 2, 3, 4), fc.integer({ min: 0, max: 50 })), { minLength: 1, maxLength: 400 }),
        (ops) => {
          const b = new Budget(bcfg);
          const w = [20, 50, 10, 1, 10];
          let now = 0;
          let spent = 0;
          for (const [action, gap] of ops) {
            now += gap;
            if (b.spend('1.2.3.4', action as 0, now)) spent += w[action]!;
          }
          assert.ok(spent <= bcfg.burst + (bcfg.perSec * now) / 1000 + 1e-9, `spent ${spent} in ${now} ms`);
        },
      ),
    );
  });

  test('chat costs ten moves; handshakes and moves share the budget; other keys are separate', () => {
    const b = new Budget(bcfg);
    for (let i = 0; i < 10; i++) assert.ok(b.spend('a', BudgetAction.handshake, 0)); // 200 units gone
    assert.equal(b.spend('a', BudgetAction.move, 0), false, 'handshakes spent what moves would use');
    assert.ok(b.spend('b', BudgetAction.move, 0), 'another address has its own budget');
    assert.ok(b.spend('a', BudgetAction.move, 10), '10 ms refill one unit');
    assert.equal(b.spend('a', BudgetAction.chat, 10), false);
    assert.ok(b.spend('a', BudgetAction.chat, 110), '100 ms refill a chat line');
    assert.equal(b.refused[BudgetAction.move], 1);
    assert.equal(b.refused[BudgetAction.chat], 1);
    assert.ok(b.overrun('a', 200, 1000), 'ran out recently');
    assert.equal(b.overrun('a', 5000, 1000), false, 'not within the window any more');
    assert.equal(b.overrun('b', 200, 1000), false);
  });

  test('tracked keys stay bounded under a spray of sources', () => {
    const b = new Budget({ ...bcfg, maxKeys: 100 });
    for (let i = 0; i < 5000; i++) b.spend(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, BudgetAction.handshake, i);
    assert.ok(b.size <= 100);
  });
});

const acfg: AdmissionConfig = {
  handshakesPerSec: 1000,
  handshakeBurst: 100,
  resumeReserve: 0.2,
  perAddressLoginsPerSec: 1000,
  perAddressLoginBurst: 1000,
  perAddressResumesPerSec: 1000,
  perAddressResumeBurst: 1000,
  maxTrackedAddresses: 1000,
  budgetPerSec: 100,
  budgetBurst: 700,
  accountBudgetPerSec: 10,
  accountBudgetBurst: 30,
  costs: weights,
};

describe('admission with cost budgets', () => {
  test('a handshake and a login spend 70 units from the address: the tenth is refused', () => {
    const a = new Admission(acfg, 0);
    for (let i = 0; i < 10; i++) assert.equal(a.admit('10.0.0.1', false, 0), 0);
    assert.ok(a.admit('10.0.0.1', false, 0) > 0);
    assert.equal(a.stats.refusedBudget, 1);
    assert.equal(a.admit('10.0.0.2', false, 0), 0);
  });

  test('moves spend the address and the account budget; an account over its budget is refused on any address', () => {
    const a = new Admission(acfg, 0);
    let ok = 0;
    for (let i = 0; i < 100; i++) if (a.spendInput(`10.0.1.${i}`, 7, false, 0)) ok++;
    assert.equal(ok, 30, 'the account budget (30 units) caps moves across addresses');
    assert.equal(a.spendInput('10.0.1.200', 8, false, 0), true, 'another account is unaffected');
    assert.equal(a.spendInput('10.0.1.200', 7, true, 1000), true, 'a second later 10 units: one chat line');
    assert.equal(a.spendInput('10.0.1.200', 7, false, 1000), false);
  });

  test('while shedding: an address that overran its budget is refused, fresh logins keep off the reserve, resumes pass', () => {
    const a = new Admission(acfg, 0);
    for (let i = 0; i < 800; i++) a.spendInput('10.6.6.6', 1000 + i, false, 0); // the abuser exhausts its address budget
    a.setShedding({ loginReserve: 0.9, abuserWindowMs: 10_000 });
    assert.ok(a.shedding);
    assert.ok(a.admit('10.6.6.6', true, 100) >= 1000, 'the abuser is refused even for a resume');
    assert.equal(a.stats.refusedShed, 1);
    let logins = 0;
    for (let i = 0; i < 50; i++) if (a.admit(`10.7.0.${i}`, false, 100) === 0) logins++;
    assert.equal(logins, 10, 'fresh logins may use only the 10% of the burst above the shed reserve');
    let resumes = 0;
    for (let i = 0; i < 50; i++) if (a.admit(`10.8.0.${i}`, true, 100) === 0) resumes++;
    assert.equal(resumes, 50, 'resumes (honest players coming back) still pass');
    a.setShedding(null);
    assert.equal(a.admit('10.6.6.6', true, 20_000), 0, 'after shedding the abuser may come back');
  });
});
