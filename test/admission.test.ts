import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TokenBucket } from '../src/session/token-bucket.js';
import { Admission, type AdmissionConfig } from '../src/session/admission.js';

describe('token bucket', () => {
  test('never grants more than burst + rate x elapsed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 300 }),
        (rate, burst, gaps) => {
          const b = new TokenBucket(rate, burst, 0);
          let now = 0;
          let granted = 0;
          for (const g of gaps) {
            now += g;
            if (b.take(now)) granted++;
          }
          assert.ok(granted <= burst + (rate * now) / 1000 + 1e-9);
        },
      ),
    );
  });

  test('waitMs predicts when take succeeds; a floor keeps a reserve', () => {
    const b = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) assert.ok(b.take(0));
    assert.equal(b.take(0), false);
    const w = b.waitMs(0);
    assert.equal(w, 100);
    assert.equal(b.take(w - 1), false);
    assert.ok(b.take(w));
    const r = new TokenBucket(1, 10, 0);
    assert.equal(r.take(0, 1, 9), true, '10 - 1 >= 9');
    assert.equal(r.take(0, 1, 9), false, 'would dip into the reserve');
    assert.equal(r.take(0, 1, 0), true, 'the reserve is there for the privileged');
  });
});

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

describe('admission control', () => {
  test('per-address login limit, with a retry hint that works', () => {
    const a = new Admission(cfg, 0);
    for (let i = 0; i < 4; i++) assert.equal(a.admit('10.0.0.1', false, 0), 0);
    const retry = a.admit('10.0.0.1', false, 0);
    assert.equal(retry, 500);
    assert.equal(a.admit('10.0.0.2', false, 0), 0, 'other addresses are unaffected');
    assert.equal(a.admit('10.0.0.1', false, retry), 0, 'retrying after the hint succeeds');
    assert.equal(a.stats.refusedAddress, 1);
  });

  test('resumes are admitted ahead of fresh logins when the global budget runs low', () => {
    const a = new Admission(cfg, 0);
    let logins = 0;
    for (let i = 0; i < 200; i++) if (a.admit(`10.1.${i >> 8}.${i & 255}`, false, 0) === 0) logins++;
    assert.equal(logins, 50, 'fresh logins stop at the resume reserve (half the burst)');
    let resumes = 0;
    for (let i = 0; i < 200; i++) if (a.admit(`10.2.${i >> 8}.${i & 255}`, true, 0) === 0) resumes++;
    assert.equal(resumes, 50, 'resumes may use the reserve');
    assert.ok(a.admit('10.3.0.1', false, 0) > 0);
    assert.ok(a.admit('10.3.0.1', true, 0) > 0);
    assert.equal(a.stats.admittedLogins, 50);
    assert.equal(a.stats.admittedResumes, 50);
  });

  test('a refusal by the global bucket does not spend the address budget', () => {
    const a = new Admission({ ...cfg, handshakesPerSec: 1, handshakeBurst: 1, resumeReserve: 0 }, 0);
    assert.equal(a.admit('10.0.0.9', false, 0), 0);
    assert.ok(a.admit('10.0.0.9', false, 0) > 0);
    assert.equal(a.stats.refusedGlobal, 1);
    // One second later the global bucket has one token; the address still has 3 of its 4.
    for (let i = 0; i < 3; i++) assert.equal(a.admit('10.0.0.9', false, 1000 + i * 1000), 0);
  });

  test('tracked addresses stay bounded under a spray of sources', () => {
    const a = new Admission({ ...cfg, maxTrackedAddresses: 100 }, 0);
    for (let i = 0; i < 5000; i++) a.admit(`10.9.${i >> 8}.${i & 255}`, false, i);
    assert.ok(a.trackedAddresses <= 100);
  });
});
