// /auth/* over real HTTP against the real server binary: every edge a client
// (or an attacker) can reach. Cheap scrypt (logN 10) keeps it fast; the
// default cost is exercised by the benchmark.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, metricValue, tempDir, type TestServer } from './helpers/server.js';
import { postJson, rawRequest } from './helpers/http.js';
import { TokenSigner } from '../src/persist/token.js';
import { connect } from 'node:net';
import { once } from 'node:events';

const SECRET = 's'.repeat(40);
const signer = new TokenSigner(Buffer.from(SECRET), 300);
const FAST = ['--auth.scryptLogN=10', `--auth.tokenSecret=${SECRET}`];
const NO_LIMIT = ['--auth.rateLimitBurst=100000', '--auth.rateLimitPerMinute=6000000'];

describe('/auth/register and /auth/login', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ args: [...FAST, ...NO_LIMIT] });
  });
  after(async () => {
    await s.stop();
  });

  test('register answers 201 with a token the server signed; login answers 200 with a fresh one', async () => {
    const r = await postJson(s.url, '/auth/register', { name: 'Alice', password: 'password1' });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['cache-control'], 'no-store');
    const reg = r.json as { accountId: number; characterId: number; name: string; token: string; expiresAt: number };
    assert.equal(reg.name, 'Alice');
    assert.ok(reg.accountId > 0 && reg.characterId > 0);
    assert.equal('playerId' in reg, false, 'one name per id: the character is characterId, the entity id comes in Welcome');
    const claims = signer.verify(reg.token);
    assert.ok(claims.ok && claims.claims.accountId === reg.accountId && claims.claims.name === 'Alice' && !claims.claims.guest);

    const l = await postJson(s.url, '/auth/login', { name: 'ALICE', password: 'password1' });
    assert.equal(l.status, 200, l.body);
    assert.equal(l.json!.accountId, reg.accountId);
    assert.equal(l.json!.name, 'Alice', 'the registered spelling');
    assert.ok(signer.verify(l.json!.token).ok);
  });

  test('a duplicate name, in any case, is 409 name_taken', async () => {
    assert.equal((await postJson(s.url, '/auth/register', { name: 'Bob_1', password: 'password1' })).status, 201);
    const r = await postJson(s.url, '/auth/register', { name: 'bOB_1', password: 'other-password' });
    assert.equal(r.status, 409);
    assert.deepEqual(r.json, { error: 'name_taken', message: 'the name bOB_1 is taken', field: 'name' });
  });

  test('a wrong password and an unknown name are the same 401', async () => {
    await postJson(s.url, '/auth/register', { name: 'Carol', password: 'password1' });
    const wrong = await postJson(s.url, '/auth/login', { name: 'Carol', password: 'password2' });
    const unknown = await postJson(s.url, '/auth/login', { name: 'Nobody99', password: 'password1' });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.body, unknown.body);
    assert.deepEqual(wrong.json, { error: 'bad_credentials', message: 'wrong name or password' });
  });

  test('invalid names and passwords are 400 naming the field and the rule', async () => {
    const n = await postJson(s.url, '/auth/register', { name: '1x', password: 'password1' });
    assert.equal(n.status, 400);
    assert.equal(n.json!.error, 'invalid_name');
    assert.equal(n.json!.field, 'name');
    assert.match(String(n.json!.message), /3 to 16 characters/);
    const p = await postJson(s.url, '/auth/register', { name: 'Dave', password: 'short' });
    assert.equal(p.status, 400);
    assert.deepEqual([p.json!.error, p.json!.field], ['invalid_password', 'password']);
    const missing = await postJson(s.url, '/auth/register', { name: 'Dave' });
    assert.equal(missing.json!.error, 'invalid_password');
    const reserved = await postJson(s.url, '/auth/register', { name: 'guest_1', password: 'password1' });
    assert.match(String(reserved.json!.message), /reserved/);
  });

  test('bad JSON, a non-object body and an empty body are 400 bad_json', async () => {
    for (const raw of ['{"name":', 'null', '[1,2]', '"text"']) {
      const r = await postJson(s.url, '/auth/login', undefined, { raw });
      assert.equal(r.status, 400, raw);
      assert.equal(r.json!.error, 'bad_json', raw);
    }
    const empty = await postJson(s.url, '/auth/login', undefined, { raw: '' });
    assert.equal(empty.status, 400);
    assert.equal(empty.json!.error, 'bad_json');
  });

  test('a wrong or missing content type is 415', async () => {
    const r = await postJson(s.url, '/auth/login', { name: 'Alice', password: 'password1' }, { headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 415);
    assert.equal(r.json!.error, 'unsupported_media_type');
    const form = await postJson(s.url, '/auth/login', undefined, { raw: 'name=a&password=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415);
    const none = await rawRequest(s.port, ['POST /auth/login HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}']);
    assert.equal(none.status, 415);
    // A charset parameter is fine.
    const ok = await postJson(s.url, '/auth/login', { name: 'Alice', password: 'password1' }, { headers: { 'content-type': 'application/json; charset=utf-8' } });
    assert.equal(ok.status, 200);
  });

  test('an oversized body is 413 and the connection is closed, declared or chunked', async () => {
    const declared = await rawRequest(s.port, ['POST /auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n']);
    assert.equal(declared.status, 413);
    assert.equal(declared.json!.error, 'body_too_large');
    assert.equal(declared.closed, true);
    const chunk = (n: number) => `${n.toString(16)}\r\n${'a'.repeat(n)}\r\n`;
    const chunked = await rawRequest(s.port, ['POST /auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n', chunk(600), chunk(600)]);
    assert.equal(chunked.status, 413);
    assert.equal(chunked.closed, true);
    // Exactly at the limit is read (and then judged as JSON).
    const body = (n: number) => `{"name":"a","password":"${'x'.repeat(n - 26)}"}`;
    assert.equal(Buffer.byteLength(body(1024)), 1024);
    assert.equal((await postJson(s.url, '/auth/login', undefined, { raw: body(1024) })).status, 401);
    const over = await rawRequest(s.port, [`POST /auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1025\r\n\r\n`]);
    assert.equal(over.status, 413);
  });

  test('clients that hang up mid-body or mid-login cost nothing: the server stays healthy', async () => {
    for (const partial of ['{"name":', '{"name":"Alice","password":"password1"}']) {
      const sock = connect({ host: '127.0.0.1', port: s.port });
      await once(sock, 'connect');
      // The second one is complete: the client leaves while its scrypt runs on the pool.
      sock.write(`POST /auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${partial.endsWith('}') ? partial.length : 100}\r\n\r\n${partial}`);
      await new Promise((r) => setTimeout(r, 20));
      sock.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    assert.equal((await postJson(s.url, '/auth/login', { name: 'Alice', password: 'password1' })).status, 200);
  });

  test('GET on an auth path is 405 with Allow: POST', async () => {
    const r = await fetch(`${s.url}/auth/login`);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
  });

  test('guest login (on by default) gives a signed guest token', async () => {
    const r = await postJson(s.url, '/auth/guest', undefined, { raw: '' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json!.guest, true);
    assert.match(String(r.json!.name), /^guest_/);
    const v = signer.verify(r.json!.token);
    assert.ok(v.ok && v.claims.guest);
    const named = await postJson(s.url, '/auth/guest', { name: 'bot1' });
    assert.equal(named.json!.name, 'guest_bot1');
  });

  test('every request is counted by endpoint and result', async () => {
    assert.ok(((await metricValue(s.url, 'mmo_auth_requests_total{endpoint="register",result="ok"}')) ?? 0) >= 3);
    assert.ok(((await metricValue(s.url, 'mmo_auth_requests_total{endpoint="login",result="bad_credentials"}')) ?? 0) >= 2);
    assert.ok(((await metricValue(s.url, 'mmo_auth_requests_total{endpoint="login",result="bad_request"}')) ?? 0) >= 5);
    assert.ok(((await metricValue(s.url, 'mmo_auth_request_seconds_count{endpoint="login"}')) ?? 0) >= 5);
    assert.equal(await metricValue(s.url, 'mmo_persist_db_up'), 1);
  });
});

describe('rate limit, guests off, restart', () => {
  test('past the burst one address gets 429 with retry-after; another address is unaffected', async () => {
    const s = await startServer({ args: [...FAST, '--auth.rateLimitBurst=3', '--auth.rateLimitPerMinute=6'] });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await postJson(s.url, '/auth/login', { name: 'x', password: 'y' }, { localAddress: '127.0.0.1' })).status);
      assert.deepEqual(codes, [401, 401, 401, 429]);
      const limited = await postJson(s.url, '/auth/login', { name: 'x', password: 'y' }, { localAddress: '127.0.0.1' });
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['retry-after'], '10', '6/min: one token per 10 s');
      assert.equal(limited.json!.error, 'rate_limited');
      assert.ok(Number(limited.json!.retryAfterMs) > 9000);
      // Limited before reading the body: an oversized body costs nothing either.
      const big = await rawRequest(s.port, ['POST /auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 9999\r\n\r\n']);
      assert.equal(big.status, 429);
      assert.equal((await postJson(s.url, '/auth/login', { name: 'x', password: 'y' }, { localAddress: '127.0.0.2' })).status, 401);
      assert.equal(await metricValue(s.url, 'mmo_auth_requests_total{endpoint="login",result="rate_limited"}'), 3);
    } finally {
      await s.stop();
    }
  });

  test('with auth.guests=false guest login is 403 guests_disabled', async () => {
    const s = await startServer({ args: [...FAST, '--auth.guests=false'] });
    try {
      const r = await postJson(s.url, '/auth/guest', {});
      assert.equal(r.status, 403);
      assert.equal(r.json!.error, 'guests_disabled');
    } finally {
      await s.stop();
    }
  });

  test('accounts and the generated token secret survive a restart on the same data dir', async () => {
    const dataDir = tempDir();
    const args = ['--auth.scryptLogN=10', `--server.dataDir=${dataDir}`];
    const a = await startServer({ args });
    const reg = await postJson(a.url, '/auth/register', { name: 'Persisto', password: 'password1' });
    assert.equal(reg.status, 201);
    assert.equal(await a.stop(), 0);
    const b = await startServer({ args });
    try {
      const l = await postJson(b.url, '/auth/login', { name: 'persisto', password: 'password1' });
      assert.equal(l.status, 200);
      assert.equal(l.json!.accountId, reg.json!.accountId);
      assert.equal((await postJson(b.url, '/auth/register', { name: 'Persisto', password: 'password1' })).status, 409);
      // Same secret: the first server's token still verifies with the second's key file.
      const { loadTokenSecret } = await import('../src/persist/token.js');
      const signer2 = new TokenSigner(loadTokenSecret('', dataDir).secret, 300);
      assert.ok(signer2.verify(reg.json!.token).ok);
    } finally {
      await b.stop();
    }
  });
});
