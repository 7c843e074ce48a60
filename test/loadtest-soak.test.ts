// The short soak of issue 8, inside npm test: the real server binary with a
// temporary config, 500 SDK bots for 30 s with players leaving and joining,
// and the soak's pass criteria: every bot connected, zero unexpected
// disconnects, zero errors, server RSS growth under 5 % after warm-up, heap
// slope near zero.
//
// RTT p99 under 50 ms is the soak's latency criterion, but a test does not
// assert timings (the project's rule: on two shared cores, with another test
// file running beside this one, the server's event loop alone showed a p99
// of 256 ms in one run). Here it is reported (t.diagnostic); the soak run
// from the CLI (npm run loadtest -- --scenario soak) enforces it.
//
// Heap slope: the driver spawns the server with /debug/gc and reads the
// heap's floor after a forced full collection 8 times over the second half
// (sampled heap use, without a mark-sweep in a 15 s window, rose with
// old-space promotion and once read 27.9 MB/min). Floors over three runs:
// 15.3 MB +- 0.05, slopes 0.10-0.22 MB/min. The limit, 5 MB/min, catches a
// leak of ~5 bytes per message at this traffic (~15,000 messages/s) and
// leaves room for a send backlog caught by one floor on a loaded machine.
// The 10-minute soak uses 1 MB/min (npm run loadtest -- --scenario soak,
// see loadtest/README.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLoadtest } from '../loadtest/runner.js';

test('soak: 500 clients for 30 s against the real server pass the soak criteria', { timeout: 170_000 }, async (t) => {
  const lines: string[] = [];
  const r = await runLoadtest({
    scenario: 'soak',
    clients: 500,
    durationSec: 30,
    spawnServer: true,
    rampPerSec: 250,
    sampleMs: 1000,
    progressMs: 5000,
    maxHeapSlopeMbPerMin: 5,
    maxRttP99Ms: Number.POSITIVE_INFINITY, // reported, not asserted (above)
    log: (l) => lines.push(l),
  });
  t.diagnostic(`RTT p50 ${String(r.rttP50Ms)} ms, p99 ${String(r.rttP99Ms)} ms (probe bots), server event-loop p99 ${String(r.serverEventLoopP99Ms)} ms, ${r.msgsPerServerCpuSecond} msgs per server CPU-second`);
  const { counters: c, serverThreads: st, ...summary } = r;
  const counters = c as { leaves: number; connects: number };
  const serverThreads = st as Array<{ name: string }> | null;
  const why = `${r.failures.join('; ')}\n${JSON.stringify(summary)}\n${lines.slice(-8).join('\n')}`;
  assert.equal(r.connected, 500, why);
  assert.equal(r.unexpectedDisconnects, 0, why);
  assert.equal(r.errors, 0, why);
  assert.ok(counters.leaves > 0 && counters.connects > 500, `players left and joined during the soak: ${why}`);
  assert.ok(r.msgsInPerSec > 500 * 10, `the world streamed to every bot (${r.msgsInPerSec} msgs/s in): ${why}`);
  assert.ok(typeof r.rssGrowthPct === 'number' && r.rssGrowthPct < 5, `RSS growth ${String(r.rssGrowthPct)} %: ${why}`);
  assert.equal(r.heapSlopeFrom, 'floors after a full GC', why);
  assert.ok(typeof r.heapSlopeMbPerMin === 'number' && r.heapSlopeMbPerMin < 5, `heap slope ${String(r.heapSlopeMbPerMin)} MB/min: ${why}`);
  assert.ok(r.rttP99Ms !== null && (r.rttSamples as number) > 100, `RTT was measured: ${why}`);
  assert.ok(serverThreads !== null && serverThreads.some((t) => t.name === 'gateway'), 'per-thread CPU of the server was read');
  assert.equal(r.pass, true, why);
});
