// Thread placement (threads.pinning) and the shared CPU table: pure logic with
// explicit CPU sets, plus real workers claiming slots at once.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  planPlacement,
  cpusForThread,
  threadNameFor,
  ThreadCpuTable,
  ThreadRegistry,
  ThreadsError,
  PINNING_KEY_PATTERN,
  CPU_LIST_PATTERN,
  liveThreadName,
} from '../native-bindings/threads.js';
import { threadTid } from '../native-bindings/index.js';
import { parseCpuList, formatCpuList } from '../native-bindings/proc.js';
import { ThreadsSection } from '../src/config/schema.js';
import { loadConfig, ConfigError } from '../src/config/index.js';
import { startFixture } from './helpers/threads.js';

const eight = [0, 1, 2, 3, 4, 5, 6, 7];
const code = (c: string) => (e: unknown) => e instanceof ThreadsError && e.code === c;

describe('placement', () => {
  test("'off' leaves every thread alone", () => {
    const p = planPlacement('off', { cpus: eight, zones: 4 });
    for (const n of ['gateway', 'zone-0', 'pool-3']) assert.equal(cpusForThread(p, n), null);
  });

  test("'auto' on 8 CPUs with 4 zones: gateway 0, zone i on 1+i, the pool on 5-7", () => {
    const p = planPlacement('auto', { cpus: eight, zones: 4 });
    assert.deepEqual(cpusForThread(p, 'gateway'), [0]);
    assert.deepEqual([0, 1, 2, 3].map((i) => cpusForThread(p, `zone-${i}`)), [[1], [2], [3], [4]]);
    assert.deepEqual(cpusForThread(p, 'pool-0'), [5, 6, 7]);
    assert.deepEqual(cpusForThread(p, 'persist-1'), [5, 6, 7]);
  });

  test("'auto' wraps zones mod N and keeps the pool off the gateway's CPU when zones fill the machine", () => {
    const p = planPlacement('auto', { cpus: eight, zones: 9 });
    assert.deepEqual(cpusForThread(p, 'zone-6'), [7]);
    assert.deepEqual(cpusForThread(p, 'zone-7'), [0]);
    assert.deepEqual(cpusForThread(p, 'zone-8'), [1]);
    assert.deepEqual(cpusForThread(p, 'pool-0'), [1, 2, 3, 4, 5, 6, 7]);
    // One CPU: everything on it.
    const one = planPlacement('auto', { cpus: [3], zones: 2 });
    assert.deepEqual([cpusForThread(one, 'gateway'), cpusForThread(one, 'zone-1'), cpusForThread(one, 'pool-0')], [[3], [3], [3]]);
  });

  test("'auto' indexes the CPUs the process may use, not CPU numbers (taskset -c 2,4,6)", () => {
    const p = planPlacement('auto', { cpus: [6, 2, 4], zones: 1 });
    assert.deepEqual(cpusForThread(p, 'gateway'), [2]);
    assert.deepEqual(cpusForThread(p, 'zone-0'), [4]);
    assert.deepEqual(cpusForThread(p, 'pool-0'), [6]);
  });

  test('a mapping: exact name beats role-* beats *, unmatched threads get every CPU', () => {
    const p = planPlacement({ gateway: 0, 'zone-1': '7', 'zone-*': '1-3', '*': '4-6' }, { cpus: eight });
    assert.deepEqual(cpusForThread(p, 'gateway'), [0]);
    assert.deepEqual(cpusForThread(p, 'zone-1'), [7]);
    assert.deepEqual(cpusForThread(p, 'zone-5'), [1, 2, 3]);
    assert.deepEqual(cpusForThread(p, 'pool-0'), [4, 5, 6]);
    const partial = planPlacement({ gateway: 0 }, { cpus: eight });
    assert.deepEqual(cpusForThread(partial, 'zone-0'), eight, 'restored to all CPUs, not left on the gateway CPU it inherited');
  });

  test('a mapping naming a CPU the process may not use, or a malformed key or list, is refused with the key', () => {
    assert.throws(() => planPlacement({ 'zone-0': '1,9' }, { cpus: eight }), (e: unknown) => code('MMO_ERR_PINNING')(e) && (e as ThreadsError).key === 'zone-0' && /CPU 9 is not available/.test((e as Error).message));
    assert.throws(() => planPlacement({ Zone: 1 }, { cpus: eight }), code('MMO_ERR_PINNING'));
    assert.throws(() => planPlacement({ gateway: '3-1' }, { cpus: eight }), code('MMO_ERR_PINNING'));
    assert.throws(() => planPlacement({ gateway: 1.5 }, { cpus: eight }), code('MMO_ERR_PINNING'));
  });

  test('thread names are role or role-index, at most 15 characters', () => {
    assert.equal(threadNameFor('gateway'), 'gateway');
    assert.equal(threadNameFor('zone', 2), 'zone-2');
    assert.equal(threadNameFor('abcdefghij', 9999).length, 15);
    assert.throws(() => threadNameFor('Zone', 1), code('MMO_ERR_THREAD_ROLE'));
    assert.throws(() => threadNameFor('zone', -1), code('MMO_ERR_THREAD_ROLE'));
    assert.throws(() => threadNameFor('abcdefghijk'), code('MMO_ERR_THREAD_ROLE'));
  });

  test('CPU lists round-trip through parse and format', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 40 }), (cpus) => {
        const sorted = [...cpus].sort((a, b) => a - b);
        const text = formatCpuList(cpus);
        assert.match(text, new RegExp(CPU_LIST_PATTERN));
        assert.deepEqual(parseCpuList(text), sorted);
      }),
    );
    assert.equal(formatCpuList([0, 1, 2, 5, 7, 8]), '0-2,5,7-8');
  });
});

describe('threads config section', () => {
  test('the schema uses the same key and CPU-list patterns as the placement code', () => {
    const record = (ThreadsSection.properties.pinning.anyOf as Array<{ patternProperties?: Record<string, { anyOf: Array<{ pattern?: string }> }> }>).find((m) => m.patternProperties)!;
    const [[key, value]] = Object.entries(record.patternProperties!) as [[string, { anyOf: Array<{ pattern?: string }> }]];
    assert.equal(key, PINNING_KEY_PATTERN);
    assert.equal(value.anyOf.find((v) => v.pattern)!.pattern, CPU_LIST_PATTERN);
  });

  test('pinning accepts off, auto and a mapping from env, CLI and file syntax; rejects the rest naming the key', () => {
    assert.equal(loadConfig({ argv: [], env: {} }).config.threads.pinning, 'off');
    assert.equal(loadConfig({ argv: ['--threads.pinning=auto'], env: {} }).config.threads.pinning, 'auto');
    // CPUs every machine has (0 only): the mapping must also name CPUs this process may use (validated at load).
    assert.deepEqual(loadConfig({ argv: [], env: { MMO_THREADS__PINNING: '{"gateway":0,"zone-*":"0"}' } }).config.threads.pinning, { gateway: 0, 'zone-*': '0' });
    for (const bad of ['on', '{"Gateway":0}', '{"gateway":"0-"}', '{}']) {
      assert.throws(
        () => loadConfig({ argv: [`--threads.pinning=${bad}`], env: {} }),
        (e: unknown) => e instanceof ConfigError && e.issues[0]?.key === 'threads.pinning' && /a mapping of keys matching/.test(e.message),
        bad,
      );
    }
    assert.throws(() => loadConfig({ argv: ['--threads.cpuPublishMs=5'], env: {} }), ConfigError);
  });
});

describe('ThreadCpuTable', () => {
  test('bytesFor: one 64-byte line per slot after a 64-byte header', () => {
    assert.equal(ThreadCpuTable.bytesFor(1), 128);
    assert.equal(ThreadCpuTable.bytesFor(64), 64 * 65);
  });

  test('register is idempotent; names read back from another view of the same buffer; full returns -1', () => {
    const t = ThreadCpuTable.create(2);
    assert.equal(t.register('gateway'), 0);
    assert.equal(t.register('zone-0'), 1);
    assert.equal(t.register('gateway'), 0);
    assert.equal(t.register('zone-1'), -1);
    const other = new ThreadCpuTable(t.buffer);
    assert.deepEqual([other.nameOf(0), other.nameOf(1)], ['gateway', 'zone-0']);
    assert.equal(other.find('zone-0'), 1);
  });

  test('an owner that has not named itself yet is not stale; once named, another name on its tid means the tid was reused', () => {
    const t = ThreadCpuTable.create(2);
    const tid = threadTid(); // this (main) thread: alive, and not called pool-0
    assert.notEqual(liveThreadName(tid), 'pool-0');
    const a = t.claim('pool-0', { tid, flags: 0 }, true);
    assert.ok(a.slot >= 0);
    assert.equal(t.isStale(a.slot), false, 'claimed, not yet named: live');
    assert.equal(t.claim('pool-0', { tid: tid + 1, flags: 0 }, true).slot, -1, "a second 'any' claimer moves on to the next index");
    Atomics.store(t.i32, t.i32Base(a.slot) + ThreadCpuTable.kFlags, ThreadCpuTable.FLAG_NAMED);
    assert.equal(t.isStale(a.slot), true, 'named pool-0, now called otherwise: its tid belongs to another thread');
  });

  test('a restarted thread keeps its name\'s total: earlier owners fold into the base; the old owner can no longer write', () => {
    const t = ThreadCpuTable.create(4);
    const a = t.claim('zone-0', { tid: -1, flags: 1 }, false);
    assert.ok(t.publish(a.slot, a.gen, 2.5));
    const b = t.claim('zone-0', { tid: -1, flags: 1 }, false);
    assert.equal(b.slot, a.slot);
    assert.equal(t.publish(a.slot, a.gen, 99), false, 'stale owner is fenced off by the generation');
    assert.ok(t.publish(b.slot, b.gen, 0.5));
    const out = new Float64Array(2);
    t.read(b.slot, out);
    assert.deepEqual([...out], [2.5, 0.5]);
    t.release(b.slot, b.gen);
    t.read(b.slot, out);
    assert.deepEqual([...out], [3, 0]);
    assert.equal(t.state(b.slot), ThreadCpuTable.STATE_FREE);
  });

  test('the registry reports each name monotonically across owner changes', () => {
    const reg = ThreadRegistry.create({ pinning: 'off', cpuPublishMs: 1000 });
    reg.register('zone-0');
    assert.deepEqual(reg.sample().map((s) => [s.name, s.cpuSeconds]), [['zone-0', 0]]);
    const t = reg.table;
    const a = t.claim('zone-0', { tid: -1, flags: 0 }, false);
    t.publish(a.slot, a.gen, 1.25);
    assert.equal(reg.sample()[0]!.cpuSeconds, 1.25);
    assert.equal(reg.sample()[0]!.source, 'estimate');
    t.claim('zone-0', { tid: -1, flags: 0 }, false);
    assert.equal(reg.sample()[0]!.cpuSeconds, 1.25);
  });

  test("pool workers claiming index 'any' at the same time get distinct names, and a released name is reused", async () => {
    const reg = ThreadRegistry.create({ pinning: 'off', cpuPublishMs: 1000 });
    const ws = await Promise.all([0, 1, 2, 3].map(() => startFixture('pool', 'any', reg.shared)));
    try {
      const names = ws.map((w) => w.first.name).sort();
      assert.deepEqual(names, ['pool-0', 'pool-1', 'pool-2', 'pool-3']);
      const slots = new Set(ws.map((w) => w.first.slot));
      assert.equal(slots.size, 4);
      const leaver = ws.find((w) => w.first.name === 'pool-1')!;
      await leaver.ask({ type: 'release' });
      await leaver.stop();
      const next = await startFixture('pool', 'any', reg.shared);
      ws.push(next);
      assert.equal(next.first.name, 'pool-1');
      assert.equal(next.first.slot, leaver.first.slot);
    } finally {
      await Promise.all(ws.map((w) => w.stop()));
    }
  });

  test("a pool worker killed by terminate() (no release) frees its name once its tid is gone", async () => {
    const reg = ThreadRegistry.create({ pinning: 'off', cpuPublishMs: 1000 });
    const a = await startFixture('pool', 'any', reg.shared);
    const b = await startFixture('pool', 'any', reg.shared);
    await a.stop();
    const c = await startFixture('pool', 'any', reg.shared);
    try {
      assert.equal(a.first.name, 'pool-0');
      assert.equal(c.first.name, 'pool-0', 'the dead pool-0 is detected by its tid and reused');
    } finally {
      await Promise.all([b.stop(), c.stop()]);
    }
  });
});
