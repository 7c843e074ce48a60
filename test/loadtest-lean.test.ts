// The short lean soak of issue 14, inside npm test: the real server binary
// with a temporary config, 2,000 lean bots (loadtest/lean/) and 20 full SDK
// bots beside them (--full-bots default: 1 %) for 30 s, players leaving and
// joining. Asserts what the lean engine promises: every client connected,
// zero unexpected disconnects, zero errors, no gap and no duplicate in any
// bot's frame sequence, the bots played (moves, pings answered), and the cost
// figures are on the result line. The figures themselves (botUsPerMessage,
// RTT, RSS growth) are reported with t.diagnostic, not asserted: timings on
// two shared cores are benchmark figures (loadtest/README.md), not tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLoadtest } from '../loadtest/runner.js';

test('lean soak: 2,000 lean bots and 20 SDK bots for 30 s: all connected, no unexpected disconnect, no error, no gap, no duplicate', { timeout: 240_000 }, async (t) => {
  const lines: string[] = [];
  const r = await runLoadtest({
    scenario: 'soak',
    clients: 2000,
    durationSec: 30,
    spawnServer: true,
    bots: 'lean',
    rampPerSec: 500,
    sampleMs: 1000,
    progressMs: 5000,
    maxHeapSlopeMbPerMin: Number.POSITIVE_INFINITY, // reported, not asserted (above)
    maxRssGrowthPct: Number.POSITIVE_INFINITY,
    maxRttP99Ms: Number.POSITIVE_INFINITY,
    log: (l) => lines.push(l),
  });
  t.diagnostic(
    `botUsPerMessage ${String(r.botUsPerMessage)} (lean), ${String(r.fullBotUsPerMessage)} (SDK); RTT p99 ${String(r.rttP99Ms)} ms; ` +
      `RSS growth ${String(r.rssGrowthPct)} %; heap slope ${String(r.heapSlopeMbPerMin)} MB/min; ${r.msgsInPerSec} msgs/s in`,
  );
  const { counters: c, serverThreads: _st, ...summary } = r;
  const k = c as Record<string, number>;
  const why = `${r.failures.join('; ')}\n${JSON.stringify(summary)}\n${JSON.stringify(c)}\n${lines.slice(-8).join('\n')}`;
  assert.equal(r.botKind, 'lean', why);
  assert.equal(r.fullBots, 20, why);
  assert.equal(r.connected, 2000, why);
  assert.equal(r.unexpectedDisconnects, 0, why);
  assert.equal(r.errors, 0, why);
  assert.equal(k.seqGaps, 0, `gaps: ${why}`);
  assert.equal(k.seqDuplicates, 0, `duplicates: ${why}`);
  assert.equal(k.malformedFrames, 0, why);
  assert.equal(k.moveRejectedIllegal, 0, why);
  assert.ok(k.leaves! > 0 && k.connects! > 2000, `players left and joined: ${why}`);
  assert.ok(k.moves! > 2000 * 30, `the bots walked (${k.moves} moves): ${why}`);
  assert.ok(k.pongs! > 0 && k.pongs! >= k.pings! * 0.9, `pings were answered (${k.pongs} of ${k.pings}): ${why}`);
  assert.ok(r.msgsInPerSec > 2000 * 10, `the world streamed to every bot (${r.msgsInPerSec} msgs/s in): ${why}`);
  assert.ok(typeof r.botUsPerMessage === 'number' && r.botUsPerMessage > 0, `botUsPerMessage measured: ${why}`);
  assert.ok(typeof r.fullBotUsPerMessage === 'number' && r.fullBotUsPerMessage > 0, `the SDK bots' cost measured: ${why}`);
  assert.equal(k.duplicateSelf, 0, why);
});
