// Agones integration (agones.enabled): the agent's schedule on a fake clock,
// the REST client against a fake sidecar, and the whole sequence with a real
// server process: a sidecar that is not up yet costs nothing but a counted
// failure, Ready only once /readyz is ready, Health repeated, the player
// count label when a bot joins, Shutdown on SIGTERM and exit 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { Registry } from 'prom-client';
import { AgonesAgent, PLAYERS_LABEL, type AgonesApi } from '../src/agones/agent.js';
import { AgonesSdk, agonesBaseUrl, type CallResult } from '../src/agones/sdk.js';
import { connect } from '../src/client/index.js';
import { captureLogger } from './helpers/fake-store.js';
import { FAKE_GAMESERVER, startFakeSidecar } from './helpers/fake-agones.js';
import { freePort } from './helpers/pg-cluster.js';
import { metricValue, startServer } from './helpers/server.js';

/** Lets the fake API's resolved promises run (setImmediate is not mocked). */
const flush = () => new Promise<void>((r) => setImmediate(r));

function fakeApi() {
  const calls: string[] = [];
  let answer: CallResult = { ok: true };
  let closed = 0;
  const api: AgonesApi = {
    ready: async () => (calls.push('ready'), answer),
    health: async () => (calls.push('health'), answer),
    shutdown: async () => (calls.push('shutdown'), answer),
    setLabel: async (k, v) => (calls.push(`label ${k}=${v}`), answer),
    gameServer: async () => (calls.push('gameserver'), answer.ok ? { ok: true, info: { name: 'gs-1', state: 'Ready' } } : answer),
    close: () => void closed++,
  };
  return { api, calls, closed: () => closed, fail: (reason: string | null) => (answer = reason ? { ok: false, reason } : { ok: true }) };
}

test('agent on a fake clock: Ready waits for readiness, Health every interval, label only on change, failures counted and logged once, Shutdown on stop', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  /** Moves the fake clock in 100 ms steps, letting each step's calls answer (as a sidecar would, between ticks). */
  const advance = async (ms: number) => {
    for (let i = 0; i < ms; i += 100) {
      t.mock.timers.tick(100);
      await flush();
      await flush();
    }
  };
  const { api, calls, closed, fail } = fakeApi();
  const { log, lines } = captureLogger();
  const registry = new Registry();
  let ready = false;
  let players = 0;
  const agent = new AgonesAgent({ api, isReady: () => ready, players: () => players, healthIntervalMs: 1000, labelIntervalMs: 500, log, registry });
  agent.start();
  await flush();
  assert.deepEqual(calls, ['health'], 'one Health at start, no Ready while not ready');
  assert.match(await registry.metrics(), /mmo_agones_ready 0/);

  await advance(1000);
  assert.deepEqual(calls, ['health', 'health'], 'still not ready: no Ready, no label');

  ready = true;
  await advance(200);
  assert.deepEqual(calls.slice(2), ['ready', `label ${PLAYERS_LABEL}=0`, 'gameserver'], 'Ready within one readiness poll, then the player label and who we are');
  assert.equal(agent.acknowledgedReady, true);
  assert.ok(lines.some((l) => l.msg === 'agones: GameServer' && l.gameServer === 'gs-1' && l.state === 'Ready'));

  await advance(1800); // t = 3000: Health at 2000 and 3000, 4 label checks with the count unchanged
  assert.deepEqual(calls.slice(5), ['health', 'health'], 'no label rewrite when the count did not change, no second Ready');

  players = 3;
  await advance(500); // t = 3500
  assert.deepEqual(calls.slice(7), [`label ${PLAYERS_LABEL}=3`]);

  fail('HTTP 503');
  players = 5;
  await advance(3000); // t = 6500: Health at 4000, 5000, 6000; label checks at 4000 .. 6500
  const failing = calls.slice(8);
  assert.equal(failing.filter((c) => c === 'health').length, 3);
  assert.equal(failing.filter((c) => c === `label ${PLAYERS_LABEL}=5`).length, 6, 'a failed label write is retried at every check');
  const warns = lines.filter((l) => String(l.msg).startsWith('agones: sidecar call failed'));
  assert.deepEqual(warns.map((l) => l.call).sort(), ['health', 'label'], 'nine failures, one log line per call kind');
  assert.equal(warns[0]!.reason, 'HTTP 503');
  let metrics = await registry.metrics();
  assert.match(metrics, /mmo_agones_failures_total\{call="health"\} 3/);
  assert.match(metrics, /mmo_agones_failures_total\{call="label"\} 6/);
  assert.match(metrics, /mmo_agones_failures_total\{call="ready"\} 0/);
  assert.match(metrics, /mmo_agones_ready 1/);

  fail(null);
  const recovering = calls.length;
  await advance(1000); // t = 7500
  assert.deepEqual(calls.slice(recovering).sort(), ['health', `label ${PLAYERS_LABEL}=5`], 'the label once, then left alone');
  assert.ok(lines.some((l) => l.msg === 'agones: sidecar call succeeds again' && l.call === 'health'));
  assert.ok(lines.some((l) => l.msg === 'agones: sidecar call succeeds again' && l.call === 'label'));

  const before = calls.length;
  await agent.stop();
  assert.deepEqual(calls.slice(before), ['shutdown']);
  assert.equal(closed(), 1, 'sockets released after Shutdown');
  assert.ok(lines.some((l) => l.msg === 'agones: Shutdown sent'));
  players = 9;
  await advance(5000);
  assert.equal(calls.length, before + 1, 'no call after Shutdown');
  await agent.stop();
  assert.equal(calls.length, before + 1, 'stop is idempotent');
  metrics = await registry.metrics();
  assert.match(metrics, /mmo_agones_failures_total\{call="shutdown"\} 0/);
});

test('a refused Ready is retried once per health interval, not every readiness poll; a throwing readiness check counts as not ready', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { api, calls, fail } = fakeApi();
  fail('ECONNREFUSED');
  let throws = true;
  const agent = new AgonesAgent({
    api,
    isReady: () => {
      if (throws) throw new Error('zone table not built');
      return true;
    },
    players: () => 0,
    healthIntervalMs: 1000,
    labelIntervalMs: 1000,
    log: captureLogger().log,
    registry: new Registry(),
  });
  agent.start();
  await flush();
  for (let i = 0; i < 5; i++) {
    t.mock.timers.tick(200);
    await flush();
  }
  assert.equal(calls.filter((c) => c === 'ready').length, 0, 'a readiness check that throws is not ready');
  throws = false;
  for (let i = 0; i < 15; i++) {
    t.mock.timers.tick(200);
    await flush();
  }
  // 3 s from t = 1 s: the first attempt at the next poll (1.2 s), then one per health interval (2.2 s, 3.2 s).
  assert.equal(calls.filter((c) => c === 'ready').length, 3);
  fail(null);
  for (let i = 0; i < 5; i++) {
    t.mock.timers.tick(200);
    await flush();
  }
  assert.equal(agent.acknowledgedReady, true);
  await agent.stop();
});

test('AgonesSdk speaks the sidecar REST API; a sidecar that is absent, failing or silent is a result, not a throw', async () => {
  const sidecar = await startFakeSidecar();
  const sdk = new AgonesSdk(sidecar.url, 1000);
  try {
    assert.deepEqual(await sdk.ready(), { ok: true, body: {} });
    assert.deepEqual(await sdk.health(), { ok: true, body: {} });
    assert.deepEqual(await sdk.setLabel('players', '7'), { ok: true, body: {} });
    assert.deepEqual(await sdk.gameServer(), { ok: true, info: { name: FAKE_GAMESERVER.object_meta.name, state: 'Ready' } });
    assert.deepEqual(await sdk.shutdown(), { ok: true, body: {} });
    assert.deepEqual(
      sidecar.calls.map((c) => [c.method, c.path, c.body]),
      [
        ['POST', '/ready', {}],
        ['POST', '/health', {}],
        ['PUT', '/metadata/label', { key: 'players', value: '7' }],
        ['GET', '/gameserver', ''],
        ['POST', '/shutdown', {}],
      ],
    );
    sidecar.status = 500;
    assert.deepEqual(await sdk.health(), { ok: false, reason: 'HTTP 500' });
  } finally {
    await sidecar.close();
  }
  // The sidecar restarts on the same port: the kept-alive socket is gone, the next call still lands.
  const port = Number(new URL(sidecar.url).port);
  const again = await startFakeSidecar(undefined, port);
  try {
    assert.deepEqual(await sdk.health(), { ok: true, body: {} });
    assert.equal(again.calls.length, 1);
  } finally {
    sdk.close();
    await again.close();
  }

  const nobody = await freePort();
  assert.deepEqual(await new AgonesSdk(`http://127.0.0.1:${nobody}`, 1000).ready(), { ok: false, reason: 'ECONNREFUSED' });

  // Accepts the connection, never answers.
  const silent = createServer(() => undefined).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  try {
    const slow = new AgonesSdk(`http://127.0.0.1:${(silent.address() as { port: number }).port}`, 100);
    assert.deepEqual(await slow.health(), { ok: false, reason: 'timed out after 100 ms' });
    slow.close();
  } finally {
    silent.close();
  }

  assert.equal(agonesBaseUrl('', {}), 'http://127.0.0.1:9358');
  assert.equal(agonesBaseUrl('', { AGONES_SDK_HTTP_PORT: '59358' }), 'http://127.0.0.1:59358');
  assert.equal(agonesBaseUrl('', { AGONES_SDK_HTTP_PORT: 'nope' }), 'http://127.0.0.1:9358');
  assert.equal(agonesBaseUrl('http://sidecar:9000/', {}), 'http://sidecar:9000');
});

test('server process with agones.enabled: runs on while the sidecar is absent, Ready once /readyz is ready, Health repeated, players label on join, Shutdown on SIGTERM and exit 0', async () => {
  const sidecarPort = await freePort(); // nothing listens there yet: the sidecar starts after the server
  const s = await startServer({
    args: ['--agones.enabled=true', `--agones.sdkUrl=http://127.0.0.1:${sidecarPort}`, '--agones.healthIntervalMs=100', '--agones.labelIntervalMs=100', '--net.gatewayThreads=1'],
  });
  let c: ReturnType<typeof connect> | null = null;
  let sidecar: Awaited<ReturnType<typeof startFakeSidecar>> | null = null;
  try {
    // Refused calls: logged once per call kind, counted, and the server serves on.
    await s.waitForLog((l) => l.call === 'health' && String(l.msg).startsWith('agones: sidecar call failed'));
    await s.waitForLog((l) => l.call === 'ready' && String(l.msg).startsWith('agones: sidecar call failed'));
    assert.equal((await s.waitForLog((l) => l.call === 'ready' && l.reason !== undefined)).reason, 'ECONNREFUSED');
    assert.ok((await metricValue(s.url, 'mmo_agones_failures_total{call="health"}'))! >= 1);
    assert.ok((await metricValue(s.url, 'mmo_agones_failures_total{call="ready"}'))! >= 1);
    assert.equal(await metricValue(s.url, 'mmo_agones_ready'), 0);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'the server serves on regardless');

    // The sidecar comes up; when /ready arrives it asks the server's /readyz, which must already say 200.
    sidecar = await startFakeSidecar(async (path) => (path === '/ready' ? (await fetch(`${s.url}/readyz`)).status : undefined), sidecarPort);
    const ready = await sidecar.waitFor((x) => x.path === '/ready');
    assert.equal(ready.probe, 200, '/readyz answered 200 when Ready was sent');
    await s.waitForLog((l) => l.msg === 'agones: Ready acknowledged');
    const gs = await s.waitForLog((l) => l.msg === 'agones: GameServer');
    assert.equal(gs.gameServer, FAKE_GAMESERVER.object_meta.name);
    assert.equal(await metricValue(s.url, 'mmo_agones_ready'), 1);
    const empty = await sidecar.waitFor((x) => x.path === '/metadata/label');
    assert.deepEqual(empty.body, { key: PLAYERS_LABEL, value: '0' });

    c = connect(s.wsUrl, { guestName: 'agones_bot', reconnect: false });
    await c.once('snapshot');
    const joined = await sidecar.waitFor((x) => x.path === '/metadata/label' && (x.body as { value?: string }).value === '1');
    assert.deepEqual(joined.body, { key: PLAYERS_LABEL, value: '1' });
    await sidecar.waitFor((x) => x.path === '/health' && sidecar!.calls.indexOf(x) > sidecar!.calls.indexOf(joined));

    const code = await s.stop('SIGTERM');
    assert.equal(code, 0);
    const paths = sidecar.calls.map((x) => x.path);
    assert.equal(paths.filter((p) => p === '/shutdown').length, 1, 'one Shutdown');
    assert.equal(paths.at(-1), '/shutdown', 'nothing after Shutdown');
    assert.equal(paths.filter((p) => p === '/ready').length, 1, 'Ready once acknowledged is not sent again');
    assert.equal(sidecar.calls.filter((x) => x.path === '/metadata/label' && (x.body as { value?: string }).value === '1').length, 1, 'the label is written once per change');
    assert.ok(s.logs.some((l) => l.msg === 'agones: Shutdown sent'));
  } finally {
    c?.close();
    await s.stop('SIGKILL');
    await sidecar?.close();
  }
});

test('agones.enabled off (the default): the server never calls a sidecar', async () => {
  const sidecar = await startFakeSidecar();
  const s = await startServer({ args: [`--agones.sdkUrl=${sidecar.url}`, '--agones.healthIntervalMs=100'] });
  try {
    assert.equal(await metricValue(s.url, 'mmo_agones_ready'), undefined, 'no agones metrics either');
    // Enabled, Health goes out at start and Shutdown before exit: an exited server that called nothing was off.
    assert.equal(await s.stop('SIGTERM'), 0);
    assert.deepEqual(sidecar.calls, []);
  } finally {
    await s.stop('SIGKILL');
    await sidecar.close();
  }
});
