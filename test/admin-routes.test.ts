// The admin HTTP API on a real server: 404 for every /admin/ route when
// admin.token is unset, 401 without or with a wrong token, 200 with the right
// one; and the game's WebSocket carries no admin data (an admin path cannot be
// upgraded to a WebSocket, and a game client sent an admin request gets only
// game traffic, never a snapshot or a zones table).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { connect } from '../src/client/index.js';
import { startServer } from './helpers/server.js';

const TOKEN = 'test-admin-token-0123456789abcdef';
const API = ['/admin/api/zones', '/admin/api/sessions', '/admin/api/history', '/admin/api/logs', '/admin/api/zones/1/map'];

test('with admin.token unset every /admin/ route answers 404 and start-up says the dashboard is off', async () => {
  const s = await startServer({ args: ['--zones.count=1'] });
  try {
    for (const p of ['/admin/', ...API]) {
      const r = await fetch(s.url + p, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(r.status, 404, p);
      await r.arrayBuffer();
    }
    const k = await fetch(`${s.url}/admin/api/sessions/1/kick`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(k.status, 404);
    await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('dashboard (/admin/) is off'));
  } finally {
    await s.stop();
  }
});

test('the admin API answers 401 without or with a wrong token, 200 with the right one; the token is never logged', async () => {
  const s = await startServer({ args: ['--zones.count=1', '--auth.rateLimitBurst=100'], env: { MMO_ADMIN__TOKEN: TOKEN } });
  try {
    for (const p of API) {
      const none = await fetch(s.url + p);
      assert.equal(none.status, 401, `${p} without a token`);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.deepEqual(await none.json(), { error: 'unauthorized' });
      for (const h of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN]) {
        const bad = await fetch(s.url + p, { headers: { authorization: h } });
        assert.equal(bad.status, 401, `${p} with ${h}`);
        await bad.arrayBuffer();
      }
      const ok = await fetch(s.url + p, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200, `${p} with the token`);
      await ok.arrayBuffer();
    }
    const kick = await fetch(`${s.url}/admin/api/sessions/1/kick`, { method: 'POST' });
    assert.equal(kick.status, 401, 'actions need the token too');
    const zones = (await (await fetch(`${s.url}/admin/api/zones`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { zones: Array<{ id: number; state: string }> };
    assert.equal(zones.zones.length, 1);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.ok(!metrics.includes(TOKEN), 'the token is not on /metrics');
    assert.ok(!JSON.stringify(s.logs).includes(TOKEN) && !s.stderr().includes(TOKEN), 'the token is not in the logs');
  } finally {
    await s.stop();
  }
});

test('no admin data is readable from a game WebSocket', async () => {
  const s = await startServer({ args: ['--zones.count=1'], env: { MMO_ADMIN__TOKEN: TOKEN } });
  try {
    // An admin path does not become a WebSocket, even with the right token.
    for (const p of ['/admin/api/live', '/admin/api/zones/1/entities', '/admin/']) {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const outcome = await new Promise<string>((resolve) => {
        ws.on('open', () => resolve('open'));
        ws.on('unexpected-response', (_req, res) => resolve(`status ${res.statusCode}`));
        ws.on('error', (e) => resolve(`error ${e.message}`));
      });
      ws.terminate();
      assert.notEqual(outcome, 'open', `${p} must not upgrade`);
    }
    // A game client that sends what the admin side asks zones for gets no snapshot back.
    const c = connect(s.wsUrl, { guestName: 'nosy', reconnect: false });
    await c.once('snapshot');
    const texts: string[] = [];
    const bins: number[] = [];
    const probe = new WebSocket(s.wsUrl);
    await new Promise<void>((resolve, reject) => {
      probe.on('open', () => resolve());
      probe.on('error', reject);
    });
    probe.on('message', (d, isBinary) => (isBinary ? bins.push((d as Buffer).length) : texts.push(String(d))));
    const closed = new Promise<number>((resolve) => probe.on('close', (code) => resolve(code)));
    probe.send(JSON.stringify({ admin: 'snapshot', req: 1 }));
    probe.send(Buffer.from(JSON.stringify({ admin: 'entity', req: 2, id: 1 })));
    const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    probe.terminate();
    assert.deepEqual(texts, [], 'no text frames (admin answers would be JSON)');
    for (const n of bins) assert.ok(n < 16 || n % 24 !== 16, 'nothing shaped like an admin snapshot');
    assert.ok(code !== -1 || bins.length === 0, `the probe is closed or ignored (close ${code}, ${bins.length} frames)`);
    c.close();
  } finally {
    await s.stop();
  }
});
