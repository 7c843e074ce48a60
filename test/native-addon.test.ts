// native-bindings with the addon loaded: names, affinity and CPU as the
// kernel shows them in /proc, from the main thread and from workers.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  nativeStatus,
  cpuSource,
  fallbackWarning,
  nameThread,
  threadName,
  pinThread,
  threadAffinity,
  threadCpuSeconds,
  threadCpuInto,
  siblingThreadCpuSeconds,
  threadTid,
  NativeBindingError,
} from '../native-bindings/index.js';
import { readThreadCpusAllowed, formatCpuList } from '../native-bindings/proc.js';
import { ThreadRegistry } from '../native-bindings/threads.js';
import { commOf, procCpuOf, sleep, startFixture, type FixtureWorker } from './helpers/threads.js';
import { burnCpu } from './helpers/burn.js';


describe('native addon', () => {
  test('is built and loaded (npm install builds it; MMO_NATIVE is not off here)', () => {
    assert.equal(nativeStatus.available, true, `addon not loaded: ${nativeStatus.reason}`);
    assert.equal(nativeStatus.forced, false);
    assert.equal(cpuSource, 'native');
    assert.equal(fallbackWarning(), null);
  });

  test('threadTid is the kernel tid: the main thread is the process id', () => {
    assert.equal(threadTid(), process.pid);
  });

  test('naming the main thread shows in /proc/self/task/<tid>/comm, and rejects names Linux would truncate', () => {
    const before = commOf(process.pid);
    try {
      assert.deepEqual(nameThread('test-main'), { ok: true, reason: null });
      assert.equal(commOf(process.pid), 'test-main');
      assert.equal(threadName(), 'test-main');
      assert.throws(() => nameThread('a-name-of-16-chr'), (e: unknown) => e instanceof NativeBindingError && e.code === 'MMO_ERR_THREAD_NAME');
      assert.throws(() => nameThread(''), (e: unknown) => e instanceof NativeBindingError && e.code === 'MMO_ERR_THREAD_NAME');
      assert.equal(commOf(process.pid), 'test-main', 'a rejected name changes nothing');
    } finally {
      nameThread(before);
    }
  });

  test('pinning the main thread shows in /proc/self/task/<tid>/status Cpus_allowed_list, and can be undone', () => {
    const all = threadAffinity()!;
    assert.ok(all.length >= 1);
    const target = all[all.length - 1]!;
    try {
      assert.equal(pinThread([target]).ok, true);
      assert.equal(readThreadCpusAllowed(process.pid, process.pid), String(target));
      assert.deepEqual(threadAffinity(), [target]);
    } finally {
      assert.equal(pinThread(all).ok, true);
    }
    assert.equal(readThreadCpusAllowed(process.pid, process.pid), formatCpuList(all));
    // A CPU the machine does not have is the kernel's refusal: a status, not an exception.
    assert.deepEqual(pinThread([8000]), { ok: false, reason: 'EINVAL' });
    assert.throws(() => pinThread([-1]), (e: unknown) => e instanceof NativeBindingError && e.code === 'MMO_ERR_PIN_CPU');
    assert.throws(() => pinThread([]), (e: unknown) => e instanceof NativeBindingError && e.code === 'MMO_ERR_PIN_CPU');
  });

  test('threadCpuSeconds rises by what a busy loop burns, in step with /proc', () => {
    const c0 = threadCpuSeconds();
    const p0 = procCpuOf(process.pid);
    burnCpu(200);
    const c1 = threadCpuSeconds();
    const p1 = procCpuOf(process.pid);
    assert.ok(c1 - c0 >= 0.2 && c1 - c0 < 0.3, `cpu delta ${c1 - c0}`);
    // The independent witness: the kernel's utime+stime, in 10 ms ticks. Agree within a few ticks.
    assert.ok(Math.abs(c1 - c0 - (p1 - p0)) < 0.05, `addon ${c1 - c0} vs /proc ${p1 - p0}`);
    assert.ok(siblingThreadCpuSeconds(process.pid) >= c1);
    assert.equal(siblingThreadCpuSeconds(1), -1, 'pid 1 is not a thread of this process');
  });

  test('threadCpuInto stores the same clock into a (shared) Float64Array and refuses bad targets', () => {
    const f64 = new Float64Array(new SharedArrayBuffer(32));
    const a = threadCpuSeconds();
    assert.equal(threadCpuInto(f64, 3), true);
    const b = threadCpuSeconds();
    assert.ok(f64[3]! >= a && f64[3]! <= b, `${a} <= ${f64[3]} <= ${b}`);
    assert.equal(threadCpuInto(f64, 4), false);
    assert.equal(threadCpuInto(f64, -1), false);
    assert.equal(threadCpuInto(new Float32Array(4) as unknown as Float64Array, 0), false);
    assert.deepEqual([f64[0], f64[1], f64[2]], [0, 0, 0]);
  });
});

describe('native addon in worker threads', () => {
  const reg = ThreadRegistry.create({ pinning: 'off', cpuPublishMs: 50 });
  const workers: FixtureWorker[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
  });

  test('a worker set up with setupThread is named in /proc, has its own tid, and pins itself', async () => {
    const w = await startFixture('zone', 1, reg.shared);
    workers.push(w);
    const s = w.first;
    assert.equal(s.nativeAvailable, true);
    assert.equal(s.name, 'zone-1');
    assert.notEqual(s.tid, process.pid);
    assert.equal(commOf(s.tid), 'zone-1');
    assert.equal(s.threadName, 'zone-1');
    assert.equal(s.pinnedCpus, null, 'pinning off leaves the thread alone');
    const all = threadAffinity()!;
    for (const cpu of all) {
      const r = await w.ask<{ ok: boolean; affinity: number[] }>({ type: 'pin', cpus: [cpu] });
      assert.equal(r.ok, true);
      assert.deepEqual(r.affinity, [cpu]);
      assert.equal(readThreadCpusAllowed(process.pid, s.tid), String(cpu));
    }
    // The main thread's mask is untouched by a worker pinning itself.
    assert.equal(readThreadCpusAllowed(process.pid, process.pid), formatCpuList(all));
  });

  test("a busy worker's CPU rises in the table and the kernel; an idle worker's does not", async () => {
    const hot = await startFixture('zone', 2, reg.shared);
    const idle = await startFixture('zone', 3, reg.shared);
    workers.push(hot, idle);
    const find = (name: string) => reg.sample().find((t) => t.name === name)!;
    const hot0 = find('zone-2');
    const idle0 = find('zone-3');
    const idleProc0 = procCpuOf(idle.first.tid);
    const hotProc0 = procCpuOf(hot.first.tid);
    const done = await hot.ask({ type: 'burn', cpuMs: 200 });
    const hot1 = find('zone-2');
    const idle1 = find('zone-3');
    assert.equal(hot1.source, 'native');
    assert.equal(hot1.live, true, 'a live owner is read from the kernel clock');
    assert.ok(hot1.cpuSeconds - hot0.cpuSeconds >= 0.2, `hot delta ${hot1.cpuSeconds - hot0.cpuSeconds}`);
    assert.ok(procCpuOf(hot.first.tid) - hotProc0 >= 0.15, 'the kernel saw the same thread burn');
    assert.ok(Math.abs(done.cpuSeconds - hot1.cpuSeconds) < 0.02, `table ${hot1.cpuSeconds} vs the thread's own clock ${done.cpuSeconds}`);
    assert.ok(idle1.cpuSeconds - idle0.cpuSeconds < 0.02, `idle delta ${idle1.cpuSeconds - idle0.cpuSeconds}`);
    assert.ok(procCpuOf(idle.first.tid) - idleProc0 < 0.03);
  });

  test('a worker stuck in a loop still shows rising CPU: the gateway reads its clock, not its last publish', async () => {
    const w = await startFixture('zone', 4, reg.shared);
    const reply = w.ask<{ type: string }>({ type: 'spin' });
    assert.equal((await reply).type, 'spinning');
    const a = reg.sample().find((t) => t.name === 'zone-4')!;
    // It never publishes again, so any rise comes from the live read. Poll: a loaded machine may run it slowly.
    let b = a;
    for (let i = 0; i < 100 && b.cpuSeconds - a.cpuSeconds < 0.05; i++) {
      await sleep(50);
      b = reg.sample().find((t) => t.name === 'zone-4')!;
    }
    assert.equal(b.live, true);
    assert.ok(b.cpuSeconds - a.cpuSeconds >= 0.05, `stuck worker delta ${b.cpuSeconds - a.cpuSeconds}`);
    await w.stop();
    // Gone: the figure stays (monotonic), read from the table, no longer live.
    const c = reg.sample().find((t) => t.name === 'zone-4')!;
    assert.equal(c.live, false);
    assert.ok(c.cpuSeconds >= b.cpuSeconds);
  });
});
