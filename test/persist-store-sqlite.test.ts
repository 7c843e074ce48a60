// The Store contract on SQLite: in-process, and through the database thread.
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { SqliteStore } from '../src/persist/sqlite-store.js';
import { PooledStore } from '../src/persist/pooled-store.js';
import type { Store } from '../src/persist/types.js';
import { storeContract, type StoreFixture } from './helpers/store-contract.js';
import { tempDir } from './helpers/server.js';

function fixture(pooled: boolean): () => Promise<StoreFixture> {
  return async () => {
    const dir = tempDir('mmo-sqlite-');
    const file = join(dir, 'db', 'mmo.sqlite');
    const opened: Store[] = [];
    return {
      migratesOnFirstCall: pooled,
      open(migrations) {
        const cfg = { file, synchronous: 'full' as const, ...(migrations ? { migrations } : {}) };
        const s = pooled ? new PooledStore({ kind: 'sqlite', ...cfg }) : new SqliteStore(cfg);
        opened.push(s);
        return s;
      },
      async cleanup() {
        for (const s of opened) await s.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

storeContract('SqliteStore', fixture(false));
storeContract('PooledStore over SQLite (database thread)', fixture(true));
