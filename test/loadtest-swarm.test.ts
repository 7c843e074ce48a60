// The load-test machinery against the SDK's protocol-speaking test double
// (test/helpers/fake-server.ts): the swarm connects and plays, spreads over
// source addresses, the result line carries every promised key, a storm
// brings every bot back on its own session (bots killing their sockets, or
// the netfault proxy resetting every link), and a server that refuses resumes
// makes the storm fail its criteria. Small and short: 40 bots, a few seconds.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeServer } from './helpers/fake-server.js';
import { runLoadtest, heapSlopeMbPerMin, slope, resolveBots } from '../loadtest/runner.js';
import { MetricsText, histogramQuantileBetween } from '../loadtest/server/probe.js';
import { parseCli } from '../loadtest/run.js';

const servers: FakeServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function fake(): Promise<FakeServer> {
  const s = await FakeServer.start();
  servers.push(s);
  return s;
}

// One bot thread and no probe thread: these runs share the machine with other test files, some of them timing-sensitive.
const quiet = { progressMs: 0, log: () => undefined, workers: 1, probeBots: 0, sampleMs: 500 };

test('steady: every bot connects, plays and is counted; the result line has every key', async () => {
  const srv = await fake();
  const r = await runLoadtest({ ...quiet, scenario: 'steady', clients: 40, durationSec: 2, url: srv.url, addresses: 8, behaviour: { pingIntervalMs: 300 } });
  for (const k of ['scenario', 'clients', 'connected', 'unexpectedDisconnects', 'errors', 'msgsInPerSec', 'msgsOutPerSec', 'serverCpuSeconds', 'msgsPerServerCpuSecond', 'rttP50Ms', 'rttP99Ms', 'rttP999Ms', 'serverRssStartMb', 'serverRssEndMb', 'serverThreads']) {
    assert.ok(k in r, `result has ${k}`);
  }
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.connected, 40);
  assert.equal(r.errors, 0);
  assert.equal(srv.sessions.size, 40, 'one session per bot');
  // Every input the fake accepted was sent by a bot, and the bots walk (moves dominate).
  const moves = srv.inputs.filter((i) => i.type === 'move').length;
  assert.ok(moves > 40 * 2, `bots moved ${moves} times`);
  assert.ok(r.msgsOutPerSec > 0 && r.msgsInPerSec > 0);
  assert.ok(r.rttP50Ms !== null && r.rttP99Ms !== null && r.rttP99Ms >= r.rttP50Ms);
  // Spread over the 8 source addresses 127.0.1.1 .. 127.0.1.8.
  const addrs = new Set(srv.remoteAddresses.map((a) => a.replace(/^::ffff:/, '')));
  assert.deepEqual([...addrs].sort(), ['127.0.1.1', '127.0.1.2', '127.0.1.3', '127.0.1.4', '127.0.1.5', '127.0.1.6', '127.0.1.7', '127.0.1.8']);
  // The fake server speaks no /metrics and has no pid: server figures are honestly absent.
  assert.equal(r.serverCpuSeconds, null);
  assert.equal(r.msgsPerServerCpuSecond, null);
});

test('reconnect-storm: bots that kill their sockets all resume their own sessions', async () => {
  const srv = await fake();
  const r = await runLoadtest({ ...quiet, scenario: 'reconnect-storm', clients: 40, durationSec: 2, url: srv.url, behaviour: { backoffBaseMs: 50 } });
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.dropped, 40);
  assert.equal(r.backOwn, 40);
  assert.equal(r.lostSessions, 0);
  assert.equal(srv.sessions.size, 40, 'no bot opened a second session');
  assert.equal(srv.upgrades, 80, 'each bot connected twice: login and resume');
  assert.ok(typeof r.lastBackMs === 'number' && r.lastBackMs > 0);
});

test('reconnect-storm through the netfault proxy: every link reset, every bot back', async () => {
  const srv = await fake();
  const r = await runLoadtest({ ...quiet, scenario: 'reconnect-storm', clients: 30, durationSec: 2, url: srv.url, dropVia: 'proxy', addresses: 4, behaviour: { backoffBaseMs: 50 } });
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.backOwn, 30);
  // The proxy mirrors each client's source address upstream.
  const addrs = new Set(srv.remoteAddresses.map((a) => a.replace(/^::ffff:/, '')));
  assert.deepEqual([...addrs].sort(), ['127.0.1.1', '127.0.1.2', '127.0.1.3', '127.0.1.4']);
});

test('reconnect-storm fails its criteria when the server refuses resumes', async () => {
  const srv = await fake();
  srv.refuseResume = true;
  const r = await runLoadtest({ ...quiet, scenario: 'reconnect-storm', clients: 20, durationSec: 2, url: srv.url, behaviour: { backoffBaseMs: 50 } });
  assert.equal(r.pass, false);
  assert.equal(r.backOwn, 0);
  assert.equal(r.gaveUp, 20, 'a refused resume (4101) ends the client');
  assert.ok(r.failures.some((f) => /0 of 20 back on their own session/.test(f)), r.failures.join('; '));
});

test('lean bots: they play against the protocol double, spread over source addresses, beside full SDK bots', async () => {
  const srv = await fake();
  const r = await runLoadtest({ ...quiet, scenario: 'steady', clients: 40, durationSec: 2, url: srv.url, addresses: 8, bots: 'lean', fullBots: 4, behaviour: { pingIntervalMs: 300 } });
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.botKind, 'lean');
  assert.equal(r.fullBots, 4);
  assert.equal(r.connected, 40);
  assert.equal(srv.sessions.size, 40, 'one session per bot');
  const moves = srv.inputs.filter((i) => i.type === 'move').length;
  assert.ok(moves > 40 * 2, `bots moved ${moves} times`);
  const c = r.counters as Record<string, number>;
  assert.equal(c.seqGaps, 0);
  assert.equal(c.seqDuplicates, 0);
  assert.ok(c.pongs! > 0 && r.rttP50Ms !== null);
  const addrs = new Set(srv.remoteAddresses.map((a) => a.replace(/^::ffff:/, '')));
  assert.equal(addrs.size, 8);
  assert.ok(typeof r.botUsPerMessage === 'number' && typeof r.fullBotUsPerMessage === 'number');
});

test('lean bots: a storm brings every one back on its own session (resume with token and last seq)', async () => {
  const srv = await fake();
  const r = await runLoadtest({ ...quiet, scenario: 'reconnect-storm', clients: 40, durationSec: 2, url: srv.url, bots: 'lean', fullBots: 0, behaviour: { backoffBaseMs: 50 } });
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.dropped, 40);
  assert.equal(r.backOwn, 40);
  assert.equal(r.lostSessions, 0);
  assert.equal(srv.sessions.size, 40, 'no bot opened a second session');
  assert.equal(srv.upgrades, 80, 'each bot connected twice: login and resume');
});

test('lean bots: after a resume they re-send the moves not acknowledged, and count replayed frames they had seen as duplicates', async () => {
  const srv = await fake();
  srv.freezeAcks = true; // frames keep ack 0: every move stays unacknowledged
  srv.replayOverlap = 2; // a resume also replays 2 frames the bot already processed
  const r = await runLoadtest({ ...quiet, scenario: 'reconnect-storm', clients: 20, durationSec: 3, url: srv.url, bots: 'lean', fullBots: 0, behaviour: { backoffBaseMs: 50 } });
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.backOwn, 20);
  const c = r.counters as Record<string, number>;
  assert.equal(c.seqDuplicates, 40, 'two replayed frames per bot, recognised as already seen');
  assert.equal(c.seqGaps, 0);
  assert.ok(srv.duplicates >= 20, `the moves were sent again after the resume (${srv.duplicates} duplicates at the server)`);
});

test('lean bots: a server that refuses resumes fails the storm (4101 ends the bot)', async () => {
  const srv = await fake();
  srv.refuseResume = true;
  const r = await runLoadtest({ ...quiet, scenario: 'reconnect-storm', clients: 20, durationSec: 2, url: srv.url, bots: 'lean', fullBots: 0, behaviour: { backoffBaseMs: 50 } });
  assert.equal(r.pass, false);
  assert.equal(r.backOwn, 0);
  assert.equal(r.gaveUp, 20);
});

test('heap slope follows the floor of the saw-tooth; histogram quantiles between scrapes', () => {
  // 10 MB saw-tooth on a floor rising 2 MB/min, sampled every second for 2 minutes.
  const samples = Array.from({ length: 121 }, (_, t) => ({ t, heapUsedMb: 100 + (2 * t) / 60 + (t % 10), rssMb: null }));
  const s = heapSlopeMbPerMin(samples, 0, 120)!;
  assert.ok(Math.abs(s - 2) < 0.5, `slope ${s}`);
  const flat = samples.map((x) => ({ ...x, heapUsedMb: 100 + (x.t % 10) }));
  assert.ok(Math.abs(heapSlopeMbPerMin(flat, 0, 120)!) < 0.5);
  assert.equal(slope([[0, 1]]), null);

  const m0 = MetricsText.parse('x_bucket{le="0.001"} 10\nx_bucket{le="0.01"} 10\nx_bucket{le="+Inf"} 10\n');
  const m1 = MetricsText.parse('# HELP x\nx_bucket{le="0.001"} 108\nx_bucket{le="0.01"} 110\nx_bucket{le="+Inf"} 110\nmmo_y{a="1"} 2\nmmo_y{a="2"} 3\n');
  assert.equal(histogramQuantileBetween(m0.buckets('x'), m1.buckets('x'), 0.5), 0.001);
  assert.equal(histogramQuantileBetween(m0.buckets('x'), m1.buckets('x'), 0.99), 0.01);
  assert.equal(histogramQuantileBetween(m0.buckets('x'), m0.buckets('x'), 0.99), null);
  assert.equal(m1.value('mmo_y'), 5);
});

test('the CLI parses scenario options and server config keys', () => {
  const { opts, json } = parseCli(['--scenario', 'soak', '--clients', '500', '--duration', '30', '--spawn-server', '--ramp', '250', '--json', '--server-config', 'net.idleTimeout=30', '--drop-via', 'proxy']);
  assert.equal(json, true);
  assert.equal(opts.scenario, 'soak');
  assert.equal(opts.clients, 500);
  assert.equal(opts.durationSec, 30);
  assert.equal(opts.spawnServer, true);
  assert.equal(opts.url, undefined);
  assert.equal(opts.rampPerSec, 250);
  assert.deepEqual(opts.serverConfig, { 'net.idleTimeout': 30 });
  assert.equal(opts.dropVia, 'proxy');
  assert.equal(opts.bots, undefined, 'no --bots: the runner picks by client count');
  const lean = parseCli(['--bots', 'lean', '--full-bots', '7']).opts;
  assert.equal(lean.bots, 'lean');
  assert.equal(lean.fullBots, 7);
});

test('bot engine defaults: lean above 2,000 clients with min(50, 1 %) full SDK bots, sdk at or below', () => {
  assert.deepEqual(resolveBots({ clients: 2000 }), { bots: 'sdk', fullBots: 0 });
  assert.deepEqual(resolveBots({ clients: 2001 }), { bots: 'lean', fullBots: 21 });
  assert.deepEqual(resolveBots({ clients: 10_000 }), { bots: 'lean', fullBots: 50 });
  assert.deepEqual(resolveBots({ clients: 500, scenario: 'attack' }), { bots: 'sdk', fullBots: 0 });
  assert.deepEqual(resolveBots({ clients: 1000, scenario: 'attack' }), { bots: 'lean', fullBots: 10 }, 'attack runs go lean sooner');
  assert.deepEqual(resolveBots({ clients: 1000, scenario: 'steady' }), { bots: 'sdk', fullBots: 0 });
  assert.deepEqual(resolveBots({ clients: 100, bots: 'lean' }), { bots: 'lean', fullBots: 1 });
  assert.deepEqual(resolveBots({ clients: 10, bots: 'lean', fullBots: 9 }), { bots: 'lean', fullBots: 5 });
  assert.deepEqual(resolveBots({ clients: 5000, bots: 'sdk', fullBots: 9 }), { bots: 'sdk', fullBots: 0 });
});
