// Per-thread CPU of another process from /proc/<pid>/task/*/stat: how a
// load-test driver attributes a server's CPU by thread name.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseTaskStat, readProcessThreads, cpuByThread, groupThreadName } from '../native-bindings/proc.js';

// Fields 14 and 15 (utime, stime) are 250 and 50 ticks; the name holds spaces and parentheses.
const STAT = '4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 500 1000000 2000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0';

describe('parseTaskStat', () => {
  test('counts fields after the last parenthesis, so any thread name parses', () => {
    const t = parseTaskStat(STAT, 100)!;
    assert.equal(t.tid, 4242);
    assert.equal(t.name, 'we (ird) name');
    assert.equal(t.state, 'S');
    assert.equal(t.userSeconds, 2.5);
    assert.equal(t.systemSeconds, 0.5);
    assert.equal(t.cpuSeconds, 3);
    assert.equal(t.lastCpu, 1);
    assert.equal(parseTaskStat('garbage', 100), null);
  });

  test("reads this process's threads, the main thread first", () => {
    const s = readProcessThreads(process.pid);
    assert.equal(s.pid, process.pid);
    assert.equal(s.threads[0]!.tid, process.pid);
    assert.ok(s.threads.length >= 2);
    assert.ok(s.threads[0]!.cpuSeconds > 0);
  });

  test('groupThreadName folds Node helper threads and keeps ours', () => {
    assert.equal(groupThreadName('node'), 'node-internal');
    assert.equal(groupThreadName('zone-3'), 'zone-3');
    assert.equal(groupThreadName('gateway'), 'gateway');
  });
});

test("attributes another process's CPU to the thread that burned it", async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/threads-process.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    const ready = JSON.parse((await lines.next()).value as string) as { zones: number[] };
    assert.equal(ready.zones.length, 2);
    const before = readProcessThreads(child.pid!);
    assert.deepEqual(
      ['gateway', 'zone-0', 'zone-1'].filter((n) => before.threads.some((t) => t.name === n)),
      ['gateway', 'zone-0', 'zone-1'],
      'named threads visible from outside',
    );
    child.stdin!.write('burn 300\n');
    assert.equal((await lines.next()).value, 'done');
    const after = readProcessThreads(child.pid!);
    const shares = cpuByThread(before, after, groupThreadName);
    const by = new Map(shares.map((s) => [s.name, s]));
    assert.equal(shares[0]!.name, 'zone-0', JSON.stringify(shares));
    // zone-0 burned 0.3 s by its own clock; /proc counts 10 ms ticks.
    assert.ok(by.get('zone-0')!.cpuSeconds >= 0.25, JSON.stringify(shares));
    assert.ok(by.get('zone-0')!.cores > 0 && by.get('zone-0')!.cores <= 1.05, JSON.stringify(shares));
    assert.ok((by.get('zone-1')?.cpuSeconds ?? 0) <= 0.03, JSON.stringify(shares));
  } finally {
    clearTimeout(timer);
    child.stdin!.end();
    if (child.exitCode === null) await once(child, 'exit');
  }
});
