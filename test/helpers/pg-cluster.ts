// A PostgreSQL server for tests. With MMO_TEST_PG_URL set, that server is
// used (the tests create and drop their own databases on it). Otherwise a
// throwaway cluster is made from Debian's binaries (/usr/lib/postgresql/*/bin
// or PATH): data and unix socket in a temp dir, a free port on 127.0.0.1,
// started with pg_ctl and removed when the test process exits. Run as root,
// the binaries run as the `postgres` user (PostgreSQL refuses root).
//
// fsync is off: the tests kill clients and stop the server, never the OS, and
// PostgreSQL's own WAL replay covers a killed server; fsync would only make
// the shared machine slower.
//
// Without binaries and without MMO_TEST_PG_URL this throws: a PostgreSQL test
// must fail, naming the package to install, not skip.

import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const run = promisify(execFile);

export interface PgCluster {
  /** True when the server came from MMO_TEST_PG_URL (it cannot be stopped by the tests). */
  readonly external: boolean;
  /** Connection URL of a database of the cluster. */
  url(database?: string): string;
  /** Creates a fresh empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server (clients see it go away), keeping its data. Own clusters only. */
  stopServer(): Promise<void>;
  /** Starts it again on the same port and data. Own clusters only. */
  startServer(): Promise<void>;
  /** Drops created databases (external) or stops and deletes the cluster (own). */
  destroy(): Promise<void>;
}

export const PG_MISSING_MESSAGE =
  'PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH. ' +
  'Install the Debian package `postgresql` (apt-get install postgresql), or set MMO_TEST_PG_URL to a ' +
  'server where the tests may create databases.';

export function findPgBin(base = '/usr/lib/postgresql', path = process.env.PATH ?? ''): string | null {
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'initdb')) && existsSync(join(base, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], 'bin');
  }
  for (const dir of path.split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  return null;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const live = new Set<() => void>();
process.on('exit', () => {
  for (const stop of live) stop();
});

/**
 * `own`: always start a throwaway cluster, even with MMO_TEST_PG_URL set (tests that stop and start the server).
 * `fsync`: keep PostgreSQL's fsync on (benchmarks, so figures are what a real server would see).
 */
export async function startPgCluster(opts: { own?: boolean; fsync?: boolean } = {}): Promise<PgCluster> {
  const external = process.env.MMO_TEST_PG_URL;
  if (external && !opts.own) return externalCluster(external);
  const bin = findPgBin();
  if (!bin) throw new Error(PG_MISSING_MESSAGE);
  return ownCluster(bin, opts.fsync === true);
}

function externalCluster(base: string): PgCluster {
  const created: string[] = [];
  const withDb = (db: string) => {
    const u = new URL(base);
    u.pathname = `/${db}`;
    return u.toString();
  };
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    external: true,
    url: (db = new URL(base).pathname.slice(1) || 'postgres') => withDb(db),
    async createDatabase() {
      const name = `mmo_test_${randomBytes(6).toString('hex')}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      created.push(name);
      return withDb(name);
    },
    async stopServer() {
      throw new Error('cannot stop the external PostgreSQL server of MMO_TEST_PG_URL; unset it to let the test run its own cluster');
    },
    async startServer() {
      throw new Error('cannot start the external PostgreSQL server of MMO_TEST_PG_URL');
    },
    async destroy() {
      await admin(async (c) => {
        for (const name of created.splice(0)) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
    },
  };
}

async function ownCluster(bin: string, fsync: boolean): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'mmo-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root but there is no `postgres` user to run PostgreSQL as (the Debian package `postgresql` creates it)');
    chownSync(dir, uid, gid);
  }
  const cmd = (name: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, name), ...args]] : [join(bin, name), args];
  const exec = async (name: string, args: string[]) => {
    const [file, argv] = cmd(name, args);
    try {
      return await run(file, argv, { timeout: 60_000 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${name} failed: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
    }
  };

  await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const opts = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    ...(fsync ? [] : ['-c fsync=off', '-c full_page_writes=off']),
    '-c max_connections=60',
    '-c shared_buffers=16MB',
  ].join(' ');
  const start = () => exec('pg_ctl', ['-D', data, '-l', log, '-o', opts, '-w', '-t', '30', 'start']);
  const stop = (mode: string) => exec('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
  let running = false;
  const killNow = () => {
    if (running) {
      const [file, argv] = cmd('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      spawnSync(file, argv, { stdio: 'ignore' });
      running = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(killNow);
  await start();
  running = true;

  const url = (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`;
  return {
    external: false,
    url,
    async createDatabase() {
      const name = `mmo_test_${randomBytes(6).toString('hex')}`;
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    async stopServer() {
      await stop('fast');
      running = false;
    },
    async startServer() {
      await start();
      running = true;
    },
    async destroy() {
      if (running) {
        await stop('immediate').catch(() => {});
        running = false;
      }
      rmSync(dir, { recursive: true, force: true });
      live.delete(killNow);
    },
  };
}
