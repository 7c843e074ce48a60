// Accounts over a real SQLite store and a real hash pool (cheap scrypt cost).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStore } from '../src/persist/sqlite-store.js';
import { PasswordPool } from '../src/persist/password-pool.js';
import { TokenSigner } from '../src/persist/token.js';
import { Accounts, nameProblem, passwordProblem } from '../src/persist/accounts.js';
import { PersistError, PersistErrorCode } from '../src/persist/errors.js';
import { hashPassword, verifyPassword } from '../src/persist/password.js';
import { GUEST_ID_BASE, type Store } from '../src/persist/types.js';
import { tempDir } from './helpers/server.js';
import { SPAWN } from './helpers/store-contract.js';

const PARAMS = { logN: 10, r: 8, p: 1 };

describe('validation', () => {
  test('names: 3-16 of letters, digits, _, starting with a letter; "guest" prefix reserved', () => {
    for (const ok of ['Bob', 'alice_01', 'A23456789012345x']) assert.equal(nameProblem(ok), null, ok);
    for (const bad of ['ab', '1abc', '_abc', 'a'.repeat(17), 'bad name', 'héllo', 'Guest_1', 'guesthouse', 42, null]) assert.notEqual(nameProblem(bad), null, String(bad));
    assert.match(nameProblem('x')!, /3 to 16 characters/);
    assert.match(nameProblem('GuestStar')!, /reserved/);
  });

  test('passwords: 8-128 characters (code points, so emoji count once)', () => {
    assert.equal(passwordProblem('12345678'), null);
    assert.equal(passwordProblem('😀'.repeat(8)), null);
    assert.match(passwordProblem('1234567')!, /8 to 128/);
    assert.notEqual(passwordProblem('x'.repeat(129)), null);
    assert.notEqual(passwordProblem(12345678), null);
  });
});

describe('scrypt', () => {
  test('a hash verifies its password only, with the parameters it was made with', () => {
    const h = hashPassword('correct horse', PARAMS);
    assert.equal(h.hash.length, 32);
    assert.equal(h.salt.length, 16);
    assert.equal(verifyPassword('correct horse', h), true);
    assert.equal(verifyPassword('correct horsf', h), false);
    assert.equal(verifyPassword('correct horse', { ...h, logN: 11 }), false, 'the cost is part of the hash');
    assert.notDeepEqual(hashPassword('correct horse', PARAMS).hash, h.hash, 'salted');
    // NFC: the same text typed two ways is the same password.
    assert.equal(verifyPassword('caf\u00e9 latte', hashPassword('cafe\u0301 latte', PARAMS)), true);
  });
});

describe('Accounts', () => {
  let dir: string;
  let store: SqliteStore;
  let pool: PasswordPool;
  let accounts: Accounts;
  const signer = new TokenSigner(Buffer.alloc(32, 1), 300);

  before(async () => {
    dir = tempDir();
    store = new SqliteStore({ file: join(dir, 'a.sqlite'), synchronous: 'normal' });
    await store.migrate();
    pool = new PasswordPool({ params: PARAMS, threads: 1, maxQueue: 64 });
    await pool.prepare();
    accounts = new Accounts(store, pool, signer, { guests: true, newPlayer: SPAWN });
  });
  after(async () => {
    await pool.close();
    await store.close();
  });

  test('register stores a hashed password and answers with a token for the new account', async () => {
    const r = await accounts.register('Zed', 'password1');
    assert.ok(r.ok);
    assert.equal(r.name, 'Zed');
    const v = accounts.verifyToken(r.token);
    assert.ok(v.ok);
    assert.deepEqual([v.claims.accountId, v.claims.name, v.claims.guest], [r.accountId, 'Zed', false]);
    const stored = await store.findAccountByName('zed');
    assert.equal(stored!.password.logN, PARAMS.logN);
    assert.ok(!Buffer.from(stored!.password.hash).includes(Buffer.from('password1')));
    const player = await store.loadPlayer(r.characterId);
    assert.equal(player!.accountId, r.accountId);
    assert.equal(player!.zone, SPAWN.zone);
  });

  test('duplicates are refused without regard to case; invalid input names the field', async () => {
    assert.ok((await accounts.register('Yara', 'password1')).ok);
    assert.deepEqual(await accounts.register('YARA', 'password2'), { ok: false, error: 'name_taken', message: 'the name YARA is taken', field: 'name' });
    const bad = await accounts.register('x', 'password1');
    assert.ok(!bad.ok && bad.error === 'invalid_name' && bad.field === 'name');
    const weak = await accounts.register('Xavier', 'short');
    assert.ok(!weak.ok && weak.error === 'invalid_password' && weak.field === 'password');
  });

  test('login: right password gets a token; wrong password and unknown name get the same answer for the same hashing work', async () => {
    assert.ok((await accounts.register('Wanda', 'password1')).ok);
    const ok = await accounts.login('wanda', 'password1');
    assert.ok(ok.ok);
    assert.equal(ok.name, 'Wanda');
    let before = pool.completed;
    const wrong = await accounts.login('Wanda', 'password2');
    assert.equal(pool.completed - before, 1, 'one scrypt for a wrong password');
    before = pool.completed;
    const unknown = await accounts.login('Nobody', 'password1');
    assert.equal(pool.completed - before, 1, 'one scrypt for an unknown name too');
    assert.deepEqual(wrong, unknown);
    assert.deepEqual(wrong, { ok: false, error: 'bad_credentials', message: 'wrong name or password' });
    assert.deepEqual(await accounts.login(42, 'x'), wrong);
  });

  test('guests: unique ids past GUEST_ID_BASE, guest_ names, signed as guests; refused when disabled', async () => {
    const a = accounts.guest();
    const b = accounts.guest('bot7');
    assert.ok(a.ok && b.ok);
    assert.ok(a.accountId >= GUEST_ID_BASE && b.accountId >= GUEST_ID_BASE && a.accountId !== b.accountId);
    assert.match(a.name, /^guest_[0-9a-f]{6}$/);
    assert.equal(b.name, 'guest_bot7');
    const v = accounts.verifyToken(b.token);
    assert.ok(v.ok && v.claims.guest);
    const bad = accounts.guest('no spaces');
    assert.ok(!bad.ok && bad.error === 'invalid_name');

    const closed = new Accounts(store, pool, signer, { guests: false, newPlayer: SPAWN });
    const r = closed.guest();
    assert.ok(!r.ok && r.error === 'guests_disabled');
    assert.deepEqual(closed.verifyToken(b.token), { ok: false, reason: 'guests_disabled' }, 'a guest token from before is no longer honoured');
  });

  test('a full hash queue answers busy; a database failure answers unavailable', async () => {
    const tiny = new PasswordPool({ params: { logN: 14, r: 8, p: 1 }, threads: 1, maxQueue: 1 });
    const busyAccounts = new Accounts(store, tiny, signer, { guests: true, newPlayer: SPAWN });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => busyAccounts.register(`Busy${i}`, 'password1')));
    await tiny.close();
    assert.ok(results.some((r) => !r.ok && r.error === 'busy'), JSON.stringify(results.map((r) => (r.ok ? 'ok' : r.error))));
    assert.ok(results.some((r) => r.ok));

    const down = { findAccountByName: () => Promise.reject(new PersistError(PersistErrorCode.unavailable, 'down')) } as unknown as Store;
    const broken = new Accounts(down, pool, signer, { guests: true, newPlayer: SPAWN });
    const r = await broken.login('Wanda', 'password1');
    assert.ok(!r.ok && r.error === 'unavailable');
    assert.match(r.message, /MMO_ERR_PERSIST_UNAVAILABLE/);
  });
});
