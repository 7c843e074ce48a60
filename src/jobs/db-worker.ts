// Piscina task module of the database pool: the one thread that owns the
// database connection(s). The gateway reaches it only through PooledStore.
//
// Each task is { method, args } naming a Store method; the answer is an
// envelope, never a throw, because structured clone drops an Error's `code`.
// The store opens (and migrates) on the first task; if opening fails (database
// down at that moment) the next task tries again.

import { setupPoolWorker } from './thread-setup.js';
import { toWireError, type WireError } from '../persist/errors.js';
import { createStore, type StoreConfig } from '../persist/open-store.js';
import type { MigrationReport, Store } from '../persist/types.js';
import { unpackPlayers, type PackedPlayers } from '../persist/packed.js';

export type StoreMethod = Exclude<keyof Store, 'kind'> | 'savePacked';

/** savePacked: savePlayers with its batch as transferred typed arrays (args[0] is a PackedPlayers). */
export interface DbTask {
  method: StoreMethod;
  args: unknown[];
}

export type DbAnswer = { ok: true; value: unknown } | { ok: false; error: WireError };

const config = setupPoolWorker<StoreConfig>('persist');
let opening: Promise<{ store: Store; report: MigrationReport }> | null = null;
let reportUnclaimed = false;

function open(): Promise<{ store: Store; report: MigrationReport }> {
  opening ??= (async () => {
    const store = createStore(config);
    try {
      const report = await store.migrate();
      reportUnclaimed = true;
      return { store, report };
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
  })().catch((err: unknown) => {
    opening = null;
    throw err;
  });
  return opening;
}

export default async function dbTask(task: DbTask): Promise<DbAnswer> {
  try {
    if (task.method === 'close') {
      const o = opening;
      opening = null;
      if (o) await (await o.catch(() => null))?.store.close();
      return { ok: true, value: undefined };
    }
    const { store, report } = await open();
    if (task.method === 'migrate' && reportUnclaimed) {
      // The open just migrated: hand that report out rather than an empty second one.
      reportUnclaimed = false;
      return { ok: true, value: report };
    }
    if (task.method === 'savePacked') return { ok: true, value: await store.savePlayers(unpackPlayers(task.args[0] as PackedPlayers)) };
    const fn = store[task.method] as (...a: unknown[]) => Promise<unknown>;
    return { ok: true, value: await fn.apply(store, task.args) };
  } catch (err) {
    return { ok: false, error: toWireError(err) };
  }
}
