import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { World, WorldError, defaultZoneDefs, maxCheckpointBytes, GENERATION_BUMP, Kind, type ZoneDef } from '../src/world/index.js';
import { Recorder, playerAt, type DeltaRecord } from './helpers/world.js';
import { newScript, runScript, type ScriptState } from './helpers/world-script.js';

const def = (): ZoneDef => defaultZoneDefs(1, { size: 512, npcsPerZone: 150 })[0]!;

function busyWorld(ticks = 200) {
  const rec = new Recorder();
  const w = new World(def(), rec, 0);
  rec.attach(w);
  const st = newScript(5, 0);
  runScript(w, rec, st, ticks);
  return { w, rec, st };
}

function checkpoint(w: World, now: number): Uint8Array {
  const buf = new Uint8Array(w.checkpointBound());
  const n = w.checkpointInto(buf, now);
  assert.ok(n > 0);
  return buf.slice(0, n);
}

const ARRAYS = [
  'id', 'gen', 'kind', 'session', 'x', 'y', 'vx', 'vy', 'facing', 'hp', 'maxHp', 'level', 'xp', 'flags', 'qx', 'qy',
  'pubHp', 'pubFlags', 'pubFacing', 'changedTick', 'timerMs', 'actionMs', 'combatMs', 'thinkMs', 'budgetMs', 'movedMs',
  'budget', 'homeX', 'homeY', 'goalX', 'goalY', 'group', 'npcState', 'target',
] as const;

function assertSameState(a: World, b: World, timeShift = 0): void {
  const sa = a.store;
  const sb = b.store;
  assert.equal(sb.highWater, sa.highWater);
  assert.equal(sb.count, sa.count);
  assert.deepEqual(Array.from(sb.countByKind), Array.from(sa.countByKind));
  assert.deepEqual(Array.from(sb.freeStack.subarray(0, sb.freeTop)), Array.from(sa.freeStack.subarray(0, sa.freeTop)));
  const hw = sa.highWater;
  for (const k of ARRAYS) {
    const x = Array.from((sa[k] as ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }).subarray(0, hw));
    const y = Array.from((sb[k] as ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }).subarray(0, hw));
    const timer = k.endsWith('Ms');
    for (let s = 0; s < hw; s++) {
      if (sa.kind[s] === Kind.free) continue;
      // A timer never set is 0 in both worlds; a set one is shifted with the clock.
      if (timer) assert.ok((x[s] === 0 && y[s] === 0) || Math.abs(y[s]! - (x[s]! + timeShift)) < 1e-6, `${k}[${s}]: ${y[s]} vs ${x[s]} + ${timeShift}`);
      else assert.equal(y[s], x[s], `${k}[${s}]`);
    }
  }
  assert.deepEqual(Array.from(sb.invItem.subarray(0, hw * 16)), Array.from(sa.invItem.subarray(0, hw * 16)));
  assert.deepEqual(Array.from(sb.invCount.subarray(0, hw * 16)), Array.from(sa.invCount.subarray(0, hw * 16)));
  assert.deepEqual(sb.names.slice(0, hw), sa.names.slice(0, hw));
  assert.deepEqual(Array.from(b.rng.state), Array.from(a.rng.state));
  assert.equal(b.tickCount, a.tickCount);
  assert.deepEqual(Array.from(b.stats), Array.from(a.stats));
  assert.deepEqual(Array.from(b.moveRejects), Array.from(a.moveRejects));
  for (let s = 0; s < hw; s++) assert.equal(b.grid.contains(s), a.grid.contains(s));
}

/** Deltas with every list in a canonical order (the order inside a tick follows grid lists, which a restore rebuilds). */
function canonical(ds: DeltaRecord[]): unknown[] {
  const byId = <T extends { id: number }>(xs: T[]) => [...xs].sort((p, q) => p.id - q.id);
  return ds.map((d) => ({
    ...d,
    leaves: [...d.leaves].sort((p, q) => p - q),
    enters: byId(d.enters),
    updates: byId(d.updates),
    damages: [...d.damages].sort((p, q) => p.target - q.target),
    deaths: [...d.deaths].sort((p, q) => p.entity - q.entity),
  }));
}

function snapshotAll(w: World, rec: Recorder): void {
  const ids = new Uint32Array(w.store.capacity);
  const n = w.players(ids);
  for (let i = 0; i < n; i++) assert.equal(w.snapshot(ids[i]!, rec), true);
}

function forkScript(st: ScriptState, seed: number, shift: number): ScriptState {
  return newScript(seed, st.now + shift, new Map(st.players), st.nextSession);
}

describe('checkpoints', () => {
  test('restore gives back every entity with its id and state; the restored world then plays exactly like the original', () => {
    for (const shift of [0, 1_000_000]) {
      const { w, rec, st } = busyWorld();
      const bytes = checkpoint(w, st.now);
      assert.ok(w.store.countByKind[Kind.player]! > 20 && w.store.countByKind[Kind.npc] === 150);
      const rec2 = new Recorder();
      const w2 = World.restore(w.def, bytes, rec2, st.now + shift, { bumpGenerations: false });
      rec2.attach(w2);
      assertSameState(w, w2, shift);

      rec.clear();
      snapshotAll(w, rec);
      snapshotAll(w2, rec2);
      const snaps = (r: Recorder) => r.snapshots.map((x) => ({ session: x.session, ids: x.entities.map((e) => e.id).sort((p, q) => p - q) }));
      assert.ok(rec2.snapshots.length > 20);
      assert.deepEqual(snaps(rec2), snaps(rec));
      rec.clear();
      rec2.clear();
      const a = forkScript(st, 77, 0);
      const b = forkScript(st, 77, shift);
      runScript(w, rec, a, 150);
      runScript(w2, rec2, b, 150);
      assert.ok(rec.deltas.length > 500);
      assert.deepEqual(canonical(rec2.deltas), canonical(rec.deltas));
      assert.deepEqual(rec2.events, rec.events);
      assertSameState(w, w2, shift);
      if (shift === 0) assert.deepEqual(checkpoint(w2, b.now), checkpoint(w, a.now));
    }
  });

  test('by default a restore never reissues an id the crashed world could have issued after the checkpoint', () => {
    const { w, st } = busyWorld(60);
    const bytes = checkpoint(w, st.now);
    const after = w.addPlayer(9999, playerAt('late', 100, 100), st.now);
    const w2 = World.restore(w.def, bytes, new Recorder(), st.now);
    const again = w2.addPlayer(9999, playerAt('late', 100, 100), st.now);
    assert.equal(again & 0xffff, after & 0xffff, 'same slot');
    assert.equal(((again >>> 16) - (after >>> 16) + 32768) % 32768, GENERATION_BUMP, 'generation advanced');
    assert.equal(w2.store.isLive(after), false);
    // Entities live at the checkpoint keep their ids.
    for (let s = 0; s < w.store.highWater; s++) if (w2.store.kind[s] !== Kind.free && s !== (again & 0xffff)) assert.equal(w2.store.id[s], w.store.id[s]);
  });

  test('a checkpoint is compact and its bounds hold', () => {
    const { w, st } = busyWorld(100);
    const bytes = checkpoint(w, st.now);
    assert.ok(bytes.length <= w.checkpointBound());
    assert.ok(w.checkpointBound() <= maxCheckpointBytes(w.def));
    // Well under 200 bytes per entity.
    assert.ok(bytes.length < 200 * w.store.count, `${bytes.length} bytes for ${w.store.count} entities`);
    assert.equal(w.checkpointInto(new Uint8Array(100), st.now), -1);
  });

  test('wrong zone, truncation and corruption are refused with MMO_ERR_CHECKPOINT, never another error', () => {
    const { w, st } = busyWorld(40);
    const bytes = checkpoint(w, st.now);
    const other = defaultZoneDefs(2, { size: 512, npcsPerZone: 150 })[1]!;
    assert.throws(() => World.restore(other, bytes, new Recorder(), 0), (e: unknown) => e instanceof WorldError && e.code === 'MMO_ERR_CHECKPOINT' && /zone 1, not 2/.test(e.message));
    for (const len of [0, 3, 60, 200, 1000, bytes.length - 1]) {
      assert.throws(() => World.restore(w.def, bytes.subarray(0, len), new Recorder(), 0), (e: unknown) => e instanceof WorldError && e.code === 'MMO_ERR_CHECKPOINT');
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const bad = bytes.slice();
        bad[at]! ^= xor;
        try {
          World.restore(w.def, bad, new Recorder(), 0);
        } catch (e) {
          assert.ok(e instanceof WorldError && e.code === 'MMO_ERR_CHECKPOINT', String(e));
        }
      }),
      { numRuns: 300 },
    );
  });
});
