// The login guess limit: per account name and per address, answered 429
// before the password hash runs. The counting is checked on a fake clock; the
// route on a real uWS app at 127.0.0.1 with an Accounts that counts how often
// a password would have been hashed; the wiring (config keys, off switch,
// metrics) against the real server binary.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import pino from 'pino';
import { GuessLimit, GuessOutcome, GuessScope, TRUST_MS, type GuessLimitConfig } from '../src/auth/guess-limit.js';
import { authRoutes } from '../src/net/auth-routes.js';
import { mountRoutes } from '../src/net/http.js';
import { RateLimiter } from '../src/net/rate-limit.js';
import { loadUws } from '../src/net/uws.js';
import type { Accounts } from '../src/persist/accounts.js';
import { startServer, metricValue } from './helpers/server.js';
import { postJson } from './helpers/http.js';

const CFG: GuessLimitConfig = { perName: 3, perAddress: 5, windowMs: 10_000, lockoutMs: 30_000, maxTracked: 1000 };

/** One wrong-password attempt; returns begin()'s answer. */
function wrong(g: GuessLimit, name: string, ip: string, now: number): number {
  const w = g.begin(name, ip, now);
  if (w === 0) g.end(name, ip, GuessOutcome.wrongPassword, now);
  return w;
}

describe('GuessLimit on a fake clock', () => {
  test('perName wrong passwords from different addresses lock the name for lockoutMs', () => {
    const g = new GuessLimit(CFG);
    assert.equal(wrong(g, 'victim', '10.0.0.1', 0), 0);
    assert.equal(wrong(g, 'victim', '10.0.0.2', 1), 0);
    assert.equal(wrong(g, 'Victim', '10.0.0.3', 2), 0, 'the third is still tried (and locks); names compare case-insensitively');
    assert.equal(wrong(g, 'victim', '10.0.0.4', 3), 30_000 - 1, 'refused with the time left');
    assert.equal(g.lockedFor(GuessScope.name, 'VICTIM', 3), 29_999);
    assert.equal(wrong(g, 'someone-else', '10.0.0.4', 3), 0, 'other names are not locked');
    assert.ok(wrong(g, 'victim', '10.0.0.5', 30_001) > 0, 'still locked 1 ms before the end');
    assert.equal(wrong(g, 'victim', '10.0.0.5', 30_002), 0, 'the lock ends');
  });

  test('attempts still waiting for the hash count: concurrent guesses cannot all get through', () => {
    const g = new GuessLimit(CFG);
    const answers = [0, 1, 2, 3, 4, 5].map((i) => g.begin('victim', `10.0.1.${i}`, 0));
    assert.deepEqual(answers.map((w) => w === 0), [true, true, true, false, false, false]);
  });

  test('an attempt that was not a wrong password (busy, database down) gives its charge back', () => {
    const g = new GuessLimit(CFG);
    for (let i = 0; i < 10; i++) {
      assert.equal(g.begin('victim', '10.0.2.1', i), 0, `attempt ${i}`);
      g.end('victim', '10.0.2.1', GuessOutcome.notAGuess, i);
    }
    assert.equal(g.lockedFor(GuessScope.name, 'victim', 10), 0);
  });

  test('failures are counted in a window: spread-out failures never lock', () => {
    const g = new GuessLimit(CFG);
    for (let i = 0; i < 20; i++) assert.equal(wrong(g, 'victim', '10.0.3.1', i * 5000), 0, `attempt ${i}`);
  });

  test('perAddress failures over many names lock the address, not the names', () => {
    const g = new GuessLimit(CFG);
    for (let i = 0; i < 5; i++) assert.equal(wrong(g, `name${i}`, '10.0.4.1', i), 0);
    assert.ok(wrong(g, 'name9', '10.0.4.1', 10) > 0, 'the address is locked');
    assert.equal(g.lockedFor(GuessScope.address, '10.0.4.1', 10), 29_994);
    assert.equal(wrong(g, 'name9', '10.0.4.2', 10), 0, 'another address may try the same name');
  });

  test('the owner logs in from where they logged in before while strangers keep the name locked; a success lifts the lock', () => {
    const g = new GuessLimit(CFG);
    assert.equal(g.begin('victim', 'home', 0), 0);
    g.end('victim', 'home', GuessOutcome.ok, 0);
    for (let i = 0; i < 3; i++) wrong(g, 'victim', `attacker${i}`, 100 + i);
    assert.ok(g.begin('victim', 'attacker9', 200) > 0, 'a stranger is refused');
    assert.ok(g.begin('victim', 'cafe', 200) > 0, 'so is the owner from a new address');
    assert.equal(g.begin('victim', 'home', 200), 0, 'home is trusted');
    g.end('victim', 'home', GuessOutcome.ok, 200);
    assert.equal(g.lockedFor(GuessScope.name, 'victim', 200), 0, 'the right password lifted the lock');
    // Trust ends TRUST_MS after the last success from there.
    const later = 200 + TRUST_MS;
    for (let i = 0; i < 3; i++) wrong(g, 'victim', `attacker${i}`, later + i);
    assert.ok(g.begin('victim', 'home', later + 10) > 0, 'home is a stranger again');
  });

  test('memory is bounded: at most maxTracked names and addresses, idle ones go first', () => {
    const g = new GuessLimit({ ...CFG, perAddress: 1_000_000, maxTracked: 100 });
    wrong(g, 'locked-one', 'a', 0);
    wrong(g, 'locked-one', 'a', 0);
    wrong(g, 'locked-one', 'a', 0);
    for (let i = 0; i < 5000; i++) wrong(g, `random${i}`, 'a', 20_000 + i);
    assert.ok(g.tracked.names <= 100, `${g.tracked.names} names tracked`);
    assert.ok(g.tracked.addresses <= 100);
    for (let i = 0; i < 5000; i++) wrong(g, 'x', `10.1.${i >> 8}.${i & 255}`, 40_000);
    assert.ok(g.tracked.addresses <= 100, `${g.tracked.addresses} addresses tracked`);
  });

  test('counted in /metrics: refusals and lockouts by scope', async () => {
    const reg = new Registry();
    const g = new GuessLimit(CFG, reg);
    for (let i = 0; i < 5; i++) wrong(g, 'victim', `10.0.5.${i}`, i);
    const text = await reg.metrics();
    assert.match(text, /^mmo_auth_guess_lockouts_total\{scope="name"\} 1$/m);
    assert.match(text, /^mmo_auth_guess_refused_total\{scope="name"\} 2$/m);
    assert.match(text, /^mmo_auth_guess_tracked 6$/m);
  });

  test('a bad setting is refused with the setting named', () => {
    assert.throws(() => new GuessLimit({ ...CFG, perName: 0 }), /perName must be an integer >= 1/);
  });
});

describe('POST /auth/login with the guess limit, on a real uWS app', () => {
  const { uws } = loadUws({ allowSlowFallback: false });
  let hashes = 0;
  const accounts = {
    login: async (name: unknown, password: unknown) => {
      hashes++; // a real Accounts hashes exactly once per login
      await new Promise((r) => setTimeout(r, 5));
      if ((name === 'victim' || name === 'newbie') && password === 'right-password') return { ok: true as const, accountId: 7, name, token: 'tok', expiresAt: 0 };
      return { ok: false as const, error: 'bad_credentials' as const, message: 'wrong name or password' };
    },
    register: async (name: unknown) => ({ ok: true as const, accountId: 8, playerId: 8, name, token: 'tok', expiresAt: 0 }),
    guest: () => ({ ok: false as const, error: 'guests_disabled' as const, message: 'not here' }),
  } as unknown as Accounts;
  const guesses = new GuessLimit({ perName: 4, perAddress: 1000, windowMs: 60_000, lockoutMs: 60_000, maxTracked: 1000 });
  let listen: unknown = null;
  let base = '';
  before(async () => {
    const app = uws.App();
    mountRoutes(
      app,
      authRoutes({ accounts, limiter: new RateLimiter({ burst: 100_000, perMinute: 6_000_000 }), maxBodyBytes: 1024, log: pino({ level: 'silent' }), metrics: null, guesses }),
    );
    await new Promise<void>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (ls) => {
        if (!ls) return reject(new Error('listen failed'));
        listen = ls;
        base = `http://127.0.0.1:${uws.us_socket_local_port(ls)}`;
        resolve();
      }),
    );
  });
  after(() => {
    if (listen) uws.us_listen_socket_close(listen as never);
  });

  test('past the limit, guesses are answered 429 with retry-after and no password is hashed', async () => {
    // The owner logs in once from home.
    assert.equal((await postJson(base, '/auth/login', { name: 'victim', password: 'right-password' }, { localAddress: '127.0.0.1' })).status, 200);
    hashes = 0;
    // 40 guesses at once from 20 addresses: the first 4 reach the hash, the rest wait for nothing.
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => postJson(base, '/auth/login', { name: 'victim', password: `guess${i}` }, { localAddress: `127.0.0.${10 + (i % 20)}` })),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses.filter((s) => s === 401).length, 4);
    assert.deepEqual(statuses.filter((s) => s === 429).length, 36);
    assert.equal(hashes, 4, 'only the 4 guesses let through were hashed');
    const locked = answers.find((a) => a.status === 429)!;
    assert.equal(locked.json!.error, 'too_many_guesses');
    assert.equal(locked.headers['retry-after'], '60');
    assert.ok(Number(locked.json!.retryAfterMs) > 59_000);
    // The right password from a stranger's address is refused too (no hash) ...
    assert.equal((await postJson(base, '/auth/login', { name: 'victim', password: 'right-password' }, { localAddress: '127.0.0.99' })).status, 429);
    assert.equal(hashes, 4);
    // ... while the owner, from home, still gets in.
    assert.equal((await postJson(base, '/auth/login', { name: 'victim', password: 'right-password' }, { localAddress: '127.0.0.1' })).status, 200);
    assert.equal(hashes, 5);
    // An account's registration address is trusted like a login's.
    assert.equal((await postJson(base, '/auth/register', { name: 'newbie', password: 'right-password' }, { localAddress: '127.0.0.50' })).status, 201);
    for (let i = 0; i < 6; i++) await postJson(base, '/auth/login', { name: 'newbie', password: `guess${i}` }, { localAddress: `127.0.0.${60 + i}` });
    assert.equal((await postJson(base, '/auth/login', { name: 'newbie', password: 'right-password' }, { localAddress: '127.0.0.99' })).status, 429);
    assert.equal((await postJson(base, '/auth/login', { name: 'newbie', password: 'right-password' }, { localAddress: '127.0.0.50' })).status, 200);
    // Other accounts were never affected.
    assert.equal((await postJson(base, '/auth/login', { name: 'other', password: 'x' }, { localAddress: '127.0.0.10' })).status, 401);
  });
});

describe('the guess limit in the server', () => {
  const FAST = ['--auth.scryptLogN=10', '--auth.rateLimitBurst=100000', '--auth.rateLimitPerMinute=6000000', '--auth.guessesPerName=3', '--auth.guessLockoutMs=20000'];

  test('auth.guessesPerName locks a name, counted in /metrics; auth.guessLimit=false turns it off', async () => {
    for (const on of [true, false]) {
      const s = await startServer({ args: [...FAST, `--auth.guessLimit=${on}`] });
      try {
        assert.equal((await postJson(s.url, '/auth/register', { name: 'Victim', password: 'password1' })).status, 201);
        const codes: number[] = [];
        for (let i = 0; i < 5; i++) codes.push((await postJson(s.url, '/auth/login', { name: 'victim', password: `guess${i}` }, { localAddress: `127.0.0.${20 + i}` })).status);
        if (on) {
          assert.deepEqual(codes, [401, 401, 401, 429, 429]);
          assert.equal(await metricValue(s.url, 'mmo_auth_requests_total{endpoint="login",result="locked"}'), 2);
          assert.equal(await metricValue(s.url, 'mmo_auth_guess_lockouts_total{scope="name"}'), 1);
          assert.equal(await metricValue(s.url, 'mmo_auth_guess_refused_total{scope="name"}'), 2);
        } else {
          assert.deepEqual(codes, [401, 401, 401, 401, 401]);
          assert.equal(await metricValue(s.url, 'mmo_auth_guess_refused_total{scope="name"}'), undefined);
        }
      } finally {
        await s.stop();
      }
    }
  });
});
