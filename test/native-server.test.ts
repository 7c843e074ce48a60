// The running server (the real binary) and its threads: the gateway named in
// /proc, placed by threads.pinning, and its CPU in /metrics; the same with the
// addon switched off (one warning, an estimate).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { startServer, type TestServer } from './helpers/server.js';
import { commOf } from './helpers/threads.js';
import { readThreadCpusAllowed, formatCpuList, readProcessThreads } from '../native-bindings/proc.js';
import { threadAffinity } from '../native-bindings/index.js';
import { planPlacement, cpusForThread } from '../native-bindings/threads.js';

const SAMPLE = /^mmo_thread_cpu_seconds_total\{thread="([^"]+)",source="([^"]+)"\} (\S+)$/gm;

async function threadCpu(url: string): Promise<Array<{ thread: string; source: string; value: number }>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  assert.match(text, /^# TYPE mmo_thread_cpu_seconds_total counter$/m);
  return [...text.matchAll(SAMPLE)].map((m) => ({ thread: m[1]!, source: m[2]!, value: Number(m[3]) }));
}

describe('server with the native addon, threads.pinning=auto', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ args: ['--threads.pinning=auto'] });
  });
  after(async () => {
    await s.stop();
  });

  test('the start-up line says the addon is in use and how threads are placed', () => {
    const line = s.logs.find((l) => typeof l.listen === 'string')!;
    assert.equal(line.native, 'addon');
    assert.equal(line.pinning, 'auto');
    assert.equal(s.logs.filter((l) => l.level === 40).length, 0, `no warnings: ${JSON.stringify(s.logs)}`);
  });

  test('the gateway (main) thread is named in /proc and pinned to the first CPU; pool threads name and place themselves; the rest keep every CPU', async () => {
    const pid = s.child.pid!;
    // A pool thread is born with the gateway's name and mask and fixes both as its
    // module loads; wait (bounded) until no thread is still in that first instant.
    const secondGateway = () => readdirSync(`/proc/${pid}/task`).some((t) => Number(t) !== pid && commOf(Number(t), pid) === 'gateway');
    for (let i = 0; i < 100 && secondGateway(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(commOf(pid, pid), 'gateway');
    const all = threadAffinity()!;
    assert.equal(readThreadCpusAllowed(pid, pid), String(all[0]));
    // Threads started before the gateway pinned itself (V8's and libuv's) keep the whole mask;
    // pool threads it started later (persist-N, hash-N) rename and re-place themselves, so
    // none of them is left as a second "gateway" on the gateway's CPU.
    const zones = Number(s.logs.find((l) => typeof l.listen === 'string')!.zones);
    const placement = planPlacement('auto', { zones, cpus: all });
    const others = readdirSync(`/proc/${pid}/task`).map(Number).filter((t) => t !== pid);
    assert.ok(others.length >= 4);
    let pool = 0;
    for (const tid of others) {
      const name = commOf(tid, pid);
      assert.notEqual(name, 'gateway', `thread ${tid} inherited the gateway's name`);
      const expected = /^(zone|persist|hash|net)-\d+$/.test(name) ? cpusForThread(placement, name)! : all;
      if (expected !== all) pool++;
      assert.equal(readThreadCpusAllowed(pid, tid), formatCpuList(expected), `thread ${tid} (${name})`);
    }
    assert.ok(pool >= 1 + zones, 'the zone and database threads are among them');
  });

  test('/metrics exports mmo_thread_cpu_seconds_total for the gateway from the kernel clock, rising with work', async () => {
    const a = (await threadCpu(s.url)).find((t) => t.thread === 'gateway')!;
    assert.equal(a.source, 'native');
    assert.ok(a.value > 0);
    for (let i = 0; i < 30; i++) await fetch(`${s.url}/metrics`);
    const b = (await threadCpu(s.url)).find((t) => t.thread === 'gateway')!;
    assert.ok(b.value > a.value, `${a.value} -> ${b.value}`);
    // Agrees with what the kernel says about the process's main thread.
    const proc = readProcessThreads(s.child.pid!).threads.find((t) => t.tid === s.child.pid)!;
    assert.equal(proc.name, 'gateway');
    assert.ok(Math.abs(proc.cpuSeconds - b.value) < 0.1, `/proc ${proc.cpuSeconds} vs metric ${b.value}`);
  });
});

describe('server with the addon switched off (MMO_NATIVE=off)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ args: ['--threads.pinning=auto'], env: { MMO_NATIVE: 'off' } });
  });
  after(async () => {
    await s.stop();
  });

  test('starts with exactly one warning, saying what is lost', () => {
    const warnings = s.logs.filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(String(warnings[0]!.msg), /native-bindings disabled by MMO_NATIVE=off: threads are not pinned or named/);
    assert.equal(s.logs.find((l) => typeof l.listen === 'string')!.native, 'fallback');
    assert.equal(s.stderr(), '');
  });

  test('the gateway is neither named nor pinned', () => {
    const pid = s.child.pid!;
    assert.notEqual(commOf(pid, pid), 'gateway');
    assert.equal(readThreadCpusAllowed(pid, pid), formatCpuList(threadAffinity()!));
  });

  test('/metrics labels the gateway figure source="estimate"', async () => {
    const g = (await threadCpu(s.url)).find((t) => t.thread === 'gateway')!;
    assert.equal(g.source, 'estimate');
    assert.ok(g.value >= 0);
  });
});

test('a pinning that names a CPU this machine lacks stops start-up with exit code 2 and the key', async () => {
  const s = await startServer({ args: ['--threads.pinning={"zone-*":"4095"}'], expectExit: true });
  assert.equal(await s.exited, 2);
  // Refused by validation (as --check-config refuses it), so on stderr like every invalid configuration.
  assert.match(s.stderr(), /threads\.pinning\.zone-\*.*"4095": CPU 4095 is not available to this process/);
});
