// Builds a Store from plain configuration data. Runs on the database thread
// (the config crosses there as workerData) and in tests.

import type { Migration } from './migrations.js';
import { PgStore, type PgStoreOptions } from './pg-store.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import type { Store } from './types.js';

export type StoreConfig = ({ kind: 'sqlite' } & SqliteStoreOptions) | ({ kind: 'postgres' } & PgStoreOptions);

export function createStore(cfg: StoreConfig, migrations?: readonly Migration[]): Store {
  const m = migrations ?? cfg.migrations;
  return cfg.kind === 'sqlite' ? new SqliteStore({ ...cfg, ...(m ? { migrations: m } : {}) }) : new PgStore({ ...cfg, ...(m ? { migrations: m } : {}) });
}

/** Where a config points, for logs: the file, or the URL without its password. */
export function describeStore(cfg: StoreConfig): string {
  if (cfg.kind === 'sqlite') return `sqlite ${cfg.file}`;
  try {
    const u = new URL(cfg.url);
    if (u.password) u.password = '***';
    return `postgres ${u.toString()}`;
  } catch {
    return 'postgres (unparsable URL)';
  }
}
