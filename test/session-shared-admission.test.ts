// Admission in shared memory (the gateway on several threads): the same rules
// as the single-threaded Admission, and one budget whichever thread asks.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { SharedAdmission } from '../src/session/shared-admission.js';
import type { AdmissionConfig } from '../src/session/admission.js';

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
});
