// Agones integration (agones.enabled): the agent's schedule on a fake clock,
// the REST client against a fake sidecar, and the whole sequence with a real
// server process: Ready only once /readyz is ready, Health repeated, the
// player-count label when a bot joins, Shutdown on SIGTERM, and a sidecar
// that refuses calls counted and logged once without harming the server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { AgonesAgent, PLAYERS_LABEL, type AgonesApi } from '../src/agones/agent.js';
import { AgonesSdk, agonesBaseUrl, type CallResult } from '../src/agones/sdk.js';
import { connect } from '../src/client/index.js';
import { captureLogger } from './helpers/fake-store.js';
import { startFakeSidecar } from './helpers/fake-agones.js';
import { freePort } from './helpers/pg-cluster.js';
import { metricValue, startServer } from './helpers/server.js';

/** Lets the fake API's resolved promises run (setImmediate is not mocked). */
const flush = () => new Promise<void>((r) => setImmediate(r));

function fakeApi() {
  const calls: string[] = [];
  let answer: CallResult = { ok: true };
  const api: AgonesApi = {
    ready: async () => (calls.push('ready'), answer),
    health: async () => (calls.push('health'), answer),
    shutdown: async () => (calls.push('shutdown'), answer),
    setLabel: async (k, v) => (calls.push(`label ${k}=${v}`), answer),
  };
  return { api, calls, fail: (reason: string | null) => (answer = reason ? { ok: false, reason } : { ok: true }) };
}

test('agent on a fake clock: Ready waits for readiness, Health every interval, label only on change, failures counted and logged once, Shutdown on stop', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { api, calls, fail } = fakeApi();
  const { log, lines } = captureLogger();
  const registry = new Registry();
  let ready = false;
  let players = 0;
  const agent = new AgonesAgent({ api, isReady: () => ready, players: () => players, healthIntervalMs: 1000, labelIntervalMs: 500, log, registry });
  agent.start();
  await flush();
  assert.deepEqual(calls, ['health'], 'one Health at start, no Ready while not ready');

  t.mock.timers.tick(1000);
  await flush();
  assert.deepEqual(calls, ['health', 'health'], 'still not ready: no Ready, no label');

  ready = true;
  t.mock.timers.tick(200);
  await flush();
  await flush();
  assert.deepEqual(calls.slice(2), ['ready', `label ${PLAYERS_LABEL}=0`], 'Ready within one readiness poll, then the player label');
  assert.equal(agent.acknowledgedReady, true);

  t.mock.timers.tick(2000); // 2 health ticks, 4 label ticks with the count unchanged
  await flush();
  assert.deepEqual(calls.slice(4), ['health', 'health'], 'no label rewrite when the count did not change, no second Ready');

  players = 3;
  t.mock.timers.tick(500);
  await flush();
  assert.deepEqual(calls.slice(6), [`label ${PLAYERS_LABEL}=3`]);

  fail('HTTP 503');
  t.mock.timers.tick(3000); // 3 failing health pings
  await flush();
  const failed = calls.slice(7).filter((c) => c === 'health').length;
  assert.equal(failed, 3);
  const warns = lines.filter((l) => l.msg?.toString().startsWith('agones: sidecar call failed'));
  assert.equal(warns.length, 1, 'three failures, one log line');
  assert.equal(warns[0]!.call, 'health');
  assert.equal(warns[0]!.reason, 'HTTP 503');
  const metrics = await registry.metrics();
  assert.match(metrics, /mmo_agones_failures_total\{call="health"\} 3/);
  assert.match(metrics, /mmo_agones_ready 1/);

  fail(null);
  t.mock.timers.tick(1000);
  await flush();
  assert.ok(lines.some((l) => l.msg === 'agones: sidecar call succeeds again' && l.call === 'health'));

  const before = calls.length;
  await agent.stop();
  assert.deepEqual(calls.slice(before), ['shutdown']);
  t.mock.timers.tick(10_000);
  await flush();
  assert.equal(calls.length, before + 1, 'no call after Shutdown');
  await agent.stop();
  assert.equal(calls.length, before + 1, 'stop is idempotent');
});

test('a refused Ready is retried once per health interval, not every readiness poll', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { api, calls, fail } = fakeApi();
  fail('ECONNREFUSED');
  const agent = new AgonesAgent({ api, isReady: () => true, players: () => 0, healthIntervalMs: 1000, labelIntervalMs: 1000, log: captureLogger().log, registry: new Registry() });
  agent.start();
  await flush();
  for (let i = 0; i < 15; i++) {
    t.mock.timers.tick(200);
    await flush();
  }
  // 3 s: the first attempt at start, then one per second.
  assert.equal(calls.filter((c) => c === 'ready').length, 4);
  fail(null);
  for (let i = 0; i < 5; i++) {
    t.mock.timers.tick(200);
    await flush();
  }
  assert.equal(agent.acknowledgedReady, true);
  await agent.stop();
});

test('AgonesSdk speaks the sidecar REST API; a sidecar that is not there is a result, not a throw', async () => {
  const sidecar = await startFakeSidecar();
  try {
    const sdk = new AgonesSdk(sidecar.url, 1000);
    assert.deepEqual(await sdk.ready(), { ok: true });
    assert.deepEqual(await sdk.health(), { ok: true });
    assert.deepEqual(await sdk.setLabel('players', '7'), { ok: true });
    assert.deepEqual(await sdk.shutdown(), { ok: true });
    assert.deepEqual(
      sidecar.calls.map((c) => [c.method, c.path, c.body]),
      [
        ['POST', '/ready', {}],
        ['POST', '/health', {}],
        ['PUT', '/metadata/label', { key: 'players', value: '7' }],
        ['POST', '/shutdown', {}],
      ],
    );
    sidecar.status = 500;
    assert.deepEqual(await sdk.health(), { ok: false, reason: 'HTTP 500' });
  } finally {
    await sidecar.close();
  }
  const gone = await new AgonesSdk(sidecar.url, 1000).ready();
  assert.equal(gone.ok, false);
  assert.equal((gone as { reason: string }).reason, 'ECONNREFUSED');

  assert.equal(agonesBaseUrl('', {}), 'http://127.0.0.1:9358');
  assert.equal(agonesBaseUrl('', { AGONES_SDK_HTTP_PORT: '59358' }), 'http://127.0.0.1:59358');
  assert.equal(agonesBaseUrl('', { AGONES_SDK_HTTP_PORT: 'nope' }), 'http://127.0.0.1:9358');
  assert.equal(agonesBaseUrl('http://sidecar:9000/', {}), 'http://sidecar:9000');
});

test('server process with agones.enabled: Ready after /readyz is ready, Health repeated, players label on join, Shutdown on SIGTERM; a refusing sidecar is counted and logged once', async () => {
  const port = await freePort();
  // When /ready arrives, the sidecar asks the server's /readyz: it must already say 200.
  const sidecar = await startFakeSidecar(async (path) => (path === '/ready' ? (await fetch(`http://127.0.0.1:${port}/readyz`)).status : undefined));
  sidecar.status = 503; // not up yet: the server must keep going and retry
  const s = await startServer({
    args: [`--net.port=${port}`, '--agones.enabled=true', `--agones.sdkUrl=${sidecar.url}`, '--agones.healthIntervalMs=100', '--agones.labelIntervalMs=100', '--net.gatewayThreads=1'],
  });
  const c = connect(s.wsUrl, { guestName: 'agones_bot' });
  try {
    await sidecar.waitFor((x) => x.path === '/ready');
    await sidecar.waitFor((x) => x.path === '/health');
    // Several refused calls: counted, one warning per call kind.
    const deadline = Date.now() + 5000;
    while (((await metricValue(s.url, 'mmo_agones_failures_total{call="health"}')) ?? 0) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await metricValue(s.url, 'mmo_agones_failures_total{call="health"}'))! >= 3);
    assert.ok((await metricValue(s.url, 'mmo_agones_failures_total{call="ready"}'))! >= 1);
    assert.equal(await metricValue(s.url, 'mmo_agones_ready'), 0);
    const warned = s.logs.filter((l) => String(l.msg).startsWith('agones: sidecar call failed'));
    assert.deepEqual(warned.map((l) => l.call).sort(), ['health', 'ready']);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'the server serves on regardless');

    sidecar.status = 200;
    const accepted = sidecar.calls.length;
    const ready = await sidecar.waitFor((x) => x.path === '/ready' && sidecar.calls.indexOf(x) >= accepted);
    assert.equal(ready.probe, 200, '/readyz answered 200 when Ready was sent');
    await s.waitForLog((l) => l.msg === 'agones: Ready acknowledged');
    assert.equal(await metricValue(s.url, 'mmo_agones_ready'), 1);

    await c.once('snapshot');
    const joined = await sidecar.waitFor((x) => x.path === '/metadata/label' && (x.body as { value?: string }).value === '1');
    assert.deepEqual(joined.body, { key: PLAYERS_LABEL, value: '1' });
    const healthAfterReady = sidecar.calls.filter((x) => x.path === '/health' && x.at >= ready.at).length;
    assert.ok(healthAfterReady >= 1, 'Health keeps coming after Ready');

    const code = await s.stop('SIGTERM');
    assert.equal(code, 0);
    const shutdown = sidecar.calls.filter((x) => x.path === '/shutdown');
    assert.equal(shutdown.length, 1, 'one Shutdown');
    assert.ok(sidecar.calls.indexOf(shutdown[0]!) > sidecar.calls.indexOf(joined));
    assert.ok(sidecar.calls.filter((x) => x.path === '/ready' && x.at >= ready.at).length === 1, 'Ready once acknowledged is not sent again');
  } finally {
    c.close();
    await s.stop('SIGKILL');
    await sidecar.close();
  }
});

test('agones.enabled off (the default): the server never calls a sidecar', async () => {
  const sidecar = await startFakeSidecar();
  const s = await startServer({ args: [`--agones.sdkUrl=${sidecar.url}`, '--agones.healthIntervalMs=100'] });
  try {
    await new Promise((r) => setTimeout(r, 400)); // 4 health intervals
    assert.equal(await metricValue(s.url, 'mmo_agones_ready'), undefined, 'no agones metrics either');
    assert.equal(await s.stop('SIGTERM'), 0);
    assert.deepEqual(sidecar.calls, []);
  } finally {
    await s.stop('SIGKILL');
    await sidecar.close();
  }
});

