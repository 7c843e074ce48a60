// native-bindings forced onto its fallback (MMO_NATIVE=off, as when the addon
// is missing): pinning and naming do nothing and say so, CPU is an estimate
// and labelled as one. The switch is read when the module loads, so this
// file sets it before importing anything from native-bindings.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

process.env.MMO_NATIVE = 'off';
const nb = await import('../native-bindings/index.js');
const { ThreadRegistry } = await import('../native-bindings/threads.js');
const { readThreadCpusAllowed } = await import('../native-bindings/proc.js');
const { commOf, startFixture, sleep } = await import('./helpers/threads.js');
type FixtureWorker = Awaited<ReturnType<typeof startFixture>>;

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('fallback (MMO_NATIVE=off)', () => {
  test('reports itself unavailable and forced, with one warning text naming the estimate label', () => {
    assert.equal(nb.nativeStatus.available, false);
    assert.equal(nb.nativeStatus.forced, true);
    assert.match(nb.nativeStatus.reason!, /MMO_NATIVE=off/);
    assert.equal(nb.cpuSource, 'estimate');
    const w = nb.fallbackWarning();
    assert.ok(w);
    assert.match(w, /not pinned or named/);
    assert.match(w, /source="estimate"/);
  });

  test('naming and pinning are no-ops that say so; /proc is unchanged', () => {
    const comm = commOf(process.pid);
    const allowed = readThreadCpusAllowed(process.pid, process.pid);
    const named = nb.nameThread('test-main');
    assert.equal(named.ok, false);
    assert.match(named.reason!, /native addon unavailable/);
    assert.equal(nb.pinThread([0]).ok, false);
    assert.equal(commOf(process.pid), comm);
    assert.equal(readThreadCpusAllowed(process.pid, process.pid), allowed);
    assert.equal(nb.threadName(), null);
    assert.equal(nb.threadAffinity(), null);
    assert.equal(nb.siblingThreadCpuSeconds(process.pid), -1);
    // Misuse is still caught without the addon.
    assert.throws(() => nb.nameThread('much-too-long-name'), { code: 'MMO_ERR_THREAD_NAME' });
  });

  test('threadTid: the main thread is still known (tid = pid)', () => {
    assert.equal(nb.threadTid(), process.pid);
  });

  test('the estimate rises by the time a busy loop holds the event loop', async () => {
    await sleep(10); // the estimate counts from the event loop's start
    const a = nb.threadCpuSeconds();
    busy(200);
    const b = nb.threadCpuSeconds();
    assert.ok(b - a >= 0.19 && b - a < 0.5, `estimate delta ${b - a}`);
    const f64 = new Float64Array(2);
    assert.equal(nb.threadCpuInto(f64, 1), true);
    assert.ok(f64[1]! >= b);
    assert.equal(nb.threadCpuInto(f64, 2), false);
  });
});

describe('fallback in workers', () => {
  const reg = ThreadRegistry.create({ pinning: 'auto', cpuPublishMs: 20 });
  const ws: FixtureWorker[] = [];
  before(async () => {
    ws.push(await startFixture('zone', 0, reg.shared), await startFixture('zone', 1, reg.shared));
  });
  after(async () => {
    await Promise.all(ws.map((w) => w.stop()));
  });

  test('a worker is not named or pinned, says so, and keeps its slot in the table', () => {
    const s = ws[0]!.first;
    assert.equal(s.nativeAvailable, false);
    assert.equal(s.name, 'zone-0');
    assert.equal(s.named, false);
    assert.equal(s.pinnedOk, false);
    assert.ok(s.pinnedCpus, 'auto computed a placement even though it cannot apply it');
    assert.equal(s.tid, -1, 'a worker cannot learn its kernel tid without the addon');
    assert.equal(s.cpuSource, 'estimate');
    assert.ok(s.slot >= 0);
  });

  test("a busy worker's estimate rises in the table, labelled estimate; an idle one's does not", async () => {
    const find = (n: string) => reg.sample().find((t) => t.name === n)!;
    const hot0 = find('zone-0').cpuSeconds;
    const idle0 = find('zone-1').cpuSeconds;
    await ws[0]!.ask({ type: 'busy', ms: 200 });
    await sleep(60);
    const hot1 = find('zone-0');
    const idle1 = find('zone-1');
    assert.equal(hot1.source, 'estimate');
    assert.equal(hot1.live, false);
    assert.ok(hot1.cpuSeconds - hot0 >= 0.19, `hot estimate delta ${hot1.cpuSeconds - hot0}`);
    // The estimate is event-loop active time in wall clock, which CPU contention
    // inflates for the idle worker's timer callbacks too: compare with the busy one.
    const hotDelta = hot1.cpuSeconds - hot0;
    assert.ok(idle1.cpuSeconds - idle0 < hotDelta / 4, `idle estimate delta ${idle1.cpuSeconds - idle0} vs busy ${hotDelta}`);
  });
});
