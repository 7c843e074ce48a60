// The attack scenario of issue 15 inside npm test: the real server binary,
// 200 honest SDK bots, all nine attacks at once for 20 s (intensity 0.5 of
// the 60 s run's rates), and the scenario's pass criteria but the timings:
// zero unexpected disconnects, no errors, every attacker socket refused or
// closed by the server with a code, the server alive, nothing lost in the
// database, RSS growth under 200 MB, owners of probed sessions still resume,
// no password guessed. RTT during and after is reported (t.diagnostic), not
// asserted: on two shared cores a test does not assert timings; the CLI run
// (npm run loadtest -- --scenario attack) enforces them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLoadtest } from '../loadtest/runner.js';

test('attack: 200 honest players keep playing through every attack at once, and every attacker is refused or closed', { timeout: 240_000 }, async (t) => {
  const lines: string[] = [];
  const r = await runLoadtest({
    scenario: 'attack',
    clients: 200,
    durationSec: 20,
    spawnServer: true,
    rampPerSec: 200,
    attackIntensity: 0.5,
    // A short password-hash queue answers guesses beyond it with 503 at once; with the default 64, guesses queued
    // behind scrypt on two shared cores (other test files running) were still unanswered at the attack's 10 s limit.
    serverConfig: { 'auth.hashQueueMax': 8 },
    maxAttackRttP99Ms: Number.POSITIVE_INFINITY, // reported, not asserted (above)
    recoverWithinSec: Number.POSITIVE_INFINITY,
    progressMs: 5000,
    log: (l) => lines.push(l),
  });
  t.diagnostic(`RTT p99 before ${JSON.stringify(r.rttBefore)} during ${JSON.stringify(r.rttDuring)} after slices ${JSON.stringify(r.rttAfterSlicesP99)}; loop p99 during ${String(r.serverEventLoopP99DuringMs)} ms; degrade level max ${String(r.degradeLevelMax)}`);
  const { counters: _c, serverThreads: _s, ...summary } = r;
  const why = `${r.failures.join('; ')}\n${JSON.stringify(summary)}\n${lines.slice(-8).join('\n')}`;
  const attackers = r.attackers as Record<string, { sockets: number; outcomes: Record<string, number>; sent: Record<string, number> }>;
  assert.equal(Object.keys(attackers).length, 9, why);
  for (const [name, a] of Object.entries(attackers)) {
    assert.ok(a.sockets > 0, `${name} opened sockets: ${why}`);
    assert.equal(a.outcomes['open-at-end'] ?? 0, 0, `${name}: every socket refused or closed by the server: ${why}`);
  }
  assert.ok((attackers['msg-flood']!.outcomes['ws:4004'] ?? 0) > 0, `flooders closed with 4004: ${why}`);
  assert.ok((attackers['garbage']!.outcomes['ws:4000'] ?? 0) > 0, `malformed frames closed with 4000: ${why}`);
  assert.ok((attackers['resume-forgery']!.outcomes['ws:4101'] ?? 0) > 0, `forged resumes refused with 4101: ${why}`);
  assert.ok((attackers['auth-bruteforce']!.outcomes['ws:4102'] ?? 0) > 0, `forged tokens refused with 4102: ${why}`);
  assert.equal(attackers['auth-bruteforce']!.sent.ownerLogins, 1, `the guessed account's owner tried once: ${why}`);
  assert.equal(attackers['auth-bruteforce']!.sent.ownerRefused, 0, `the guessing did not lock the owner out: ${why}`);
  assert.equal(r.connected, 200, why);
  assert.equal(r.unexpectedDisconnects, 0, why);
  assert.equal(r.errors, 0, why);
  assert.equal(r.serverAlive, true, why);
  assert.equal(r.attackerSocketsLeftOpen, 0, why);
  assert.ok(typeof r.rssGrowthMb === 'number' && r.rssGrowthMb < 200, why);
  assert.ok((r.rttDuring as { samples: number }).samples > 50, `RTT was measured during the attack: ${why}`);
  assert.equal(r.pass, true, why);
});
