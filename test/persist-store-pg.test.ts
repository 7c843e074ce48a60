// The Store contract on PostgreSQL: in-process, and through the database
// thread. Uses MMO_TEST_PG_URL, or a throwaway cluster from Debian's binaries
// (fails, naming the package, when neither is available).
import { after, before } from 'node:test';
import { PgStore } from '../src/persist/pg-store.js';
import { PooledStore } from '../src/persist/pooled-store.js';
import type { Store } from '../src/persist/types.js';
import { storeContract, type StoreFixture } from './helpers/store-contract.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findPgBin, startPgCluster, PG_MISSING_MESSAGE, type PgCluster } from './helpers/pg-cluster.js';

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  await cluster?.destroy();
});

function fixture(pooled: boolean): () => Promise<StoreFixture> {
  return async () => {
    if (!cluster) throw new Error('the PostgreSQL cluster did not start (see the error of the before hook)');
    const url = await cluster.createDatabase();
    const opened: Store[] = [];
    return {
      migratesOnFirstCall: pooled,
      open(migrations) {
        const cfg = { url, poolSize: 2, connectTimeoutMs: 3000, statementTimeoutMs: 5000, ...(migrations ? { migrations } : {}) };
        const s = pooled ? new PooledStore({ kind: 'postgres', ...cfg }) : new PgStore(cfg);
        opened.push(s);
        return s;
      },
      async cleanup() {
        for (const s of opened) await s.close().catch(() => {});
      },
    };
  };
}

storeContract('PgStore', fixture(false));
storeContract('PooledStore over PostgreSQL (database thread)', fixture(true));

test('without PostgreSQL binaries the PostgreSQL tests fail naming the Debian package, never skip', () => {
  assert.equal(findPgBin('/nonexistent', '/nonexistent/bin'), null);
  assert.match(PG_MISSING_MESSAGE, /Debian package `postgresql`/);
  assert.match(PG_MISSING_MESSAGE, /MMO_TEST_PG_URL/);
  assert.ok(findPgBin() !== null || process.env.MMO_TEST_PG_URL, PG_MISSING_MESSAGE);
});
