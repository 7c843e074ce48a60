// The standalone binary (npm run build:binary, issue 17) as an operator runs
// it: copied alone into an empty directory, with no node on PATH (an empty
// bin dir: on this machine /bin is /usr/bin, which has node), no
// node_modules, and its cache under a temp XDG_CACHE_HOME. It answers
// --version and --check-config, serves (zone workers, piscina pools and two
// gateway threads all inside the binary) for a player on the SDK, on SQLite
// and on PostgreSQL, runs a studio's content module and log.pretty, extracts
// its embedded files once and reuses them, replaces a tampered cache, and
// stops with exit 0 on SIGTERM.
//
// The binary is built here (about 6 s) unless dist/bin/mmo-server is newer
// than everything it is made of.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MmoClient } from '../src/client/index.js';
import { postJson } from './helpers/http.js';
import { freshBinary, ROOT } from './helpers/binary.js';
import { onLogLines, type LogLine } from './helpers/server.js';
import { startPgCluster } from './helpers/pg-cluster.js';
import { waitFor } from './helpers/wait.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** One zone of 64 x 64 without NPCs: every spawn point is within view (radius 64) of every other, so a watcher sees the player. */
const SMALL_ZONE = ['--zones.count=1', '--zones.size=64', '--zones.npcsPerZone=0'];

interface Run {
  child: ChildProcess;
  lines: LogLine[];
  stderr: () => string;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

describe('the standalone binary, alone in an empty directory with no node on PATH', () => {
  let work: string;
  let dir: string;
  let bin: string;
  let cache: string;
  let env: Record<string, string>;
  const clients: MmoClient[] = [];

  before(() => {
    const built = freshBinary();
    work = mkdtempSync(join(tmpdir(), 'mmo-binary-'));
    dir = join(work, 'srv');
    cache = join(work, 'cache');
    const emptyBin = join(work, 'bin');
    for (const d of [dir, cache, emptyBin, join(work, 'home'), join(work, 'tmp')]) mkdirSync(d);
    bin = join(dir, 'mmo-server');
    copyFileSync(built, bin);
    // Not process.env: nothing of this machine's setup (NODE_OPTIONS, MMO_*) leaks in.
    env = { PATH: emptyBin, HOME: join(work, 'home'), TMPDIR: join(work, 'tmp'), XDG_CACHE_HOME: cache, MMO_SEA_DEBUG: '1' };
  });
  after(() => {
    for (const c of clients) c.close();
    for (const c of running) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  function run(args: string[]): Run {
    const child = spawn(bin, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const lines: LogLine[] = [];
    let err = '';
    onLogLines(child.stdout!, (l) => lines.push(l));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exited = once(child, 'exit').then(([code]) => {
      running.delete(child);
      return code as number | null;
    });
    return { child, lines, stderr: () => err, exited };
  }

  async function runToEnd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const r = run(args);
    const code = await r.exited;
    return { code, stdout: r.lines.map((l) => (typeof l.raw === 'string' ? l.raw : JSON.stringify(l))).join('\n'), stderr: r.stderr() };
  }

  /** What src/sea/entry.ts says it did with the cache (MMO_SEA_DEBUG). */
  const cacheOutcome = (stderr: string): string | undefined => /embedded files (\w+) in (\S+)/.exec(stderr)?.[1];
  const cacheRoot = (): string => {
    const entries = readdirSync(join(cache, 'mmo-server'));
    assert.equal(entries.length, 1, `one versioned tree and no leftovers: ${entries.join(', ')}`);
    assert.match(entries[0]!, new RegExp(`^${VERSION.replace(/\./g, '\\.')}-[0-9a-f]{16}$`));
    return join(cache, 'mmo-server', entries[0]!);
  };

  /** Starts a server, waits for /readyz 200, plays: a player joins and moves, acknowledged by its zone. */
  async function serve(args: string[], login: (url: string) => Promise<{ token?: string; guestName?: string }>): Promise<{ r: Run; url: string }> {
    const r = run(['--net.port=0', '--net.host=127.0.0.1', '--log.pretty=never', '--auth.scryptLogN=10', ...SMALL_ZONE, ...args]);
    try {
      return { r, url: await play(r, login) };
    } catch (err) {
      // Not left running to hold the data directory against the next test.
      r.child.kill('SIGKILL');
      await r.exited;
      throw err;
    }
  }

  async function play(r: Run, login: (url: string) => Promise<{ token?: string; guestName?: string }>): Promise<string> {
    await waitFor(() => r.lines.some((l) => typeof l.listen === 'string') || r.child.exitCode !== null, 20_000, () => `the listen line; stderr: ${r.stderr()}`);
    const listen = r.lines.find((l) => typeof l.listen === 'string');
    assert.ok(listen, `exited with ${r.child.exitCode} before listening: ${r.stderr()} ${JSON.stringify(r.lines.slice(-5))}`);
    assert.equal(listen.uws, 'native', 'uWebSockets.js native addon loaded from the cache');
    assert.equal(listen.native, 'addon', 'our native addon loaded from the cache');
    const url = `http://127.0.0.1:${String(listen.listen).split(':').pop()}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 10_000, '/readyz 200');
    const ready = (await (await fetch(`${url}/readyz`)).json()) as { components: Record<string, string> };
    assert.deepEqual(ready.components, { 'zone-1': 'up', listener: 'up', database: 'up' });

    // The player, and a guest beside it who watches it walk: what the zone worker sends.
    const ws = `${url.replace('http', 'ws')}/ws`;
    const c = connect(ws, await login(url));
    const w = connect(ws, { guestName: 'watcher' });
    clients.push(c, w);
    await Promise.all([c.once('snapshot'), w.once('snapshot')]);
    const from = { x: c.self!.x, y: c.self!.y };
    // Small steps one way; a wall there turns the walk the other way.
    let dir = 1;
    c.on('moveRejected', () => (dir = -dir));
    for (let i = 0; i < 5; i++) {
      c.move(c.self!.x + dir * 0.5, c.self!.y);
      await new Promise((res) => setTimeout(res, 100));
    }
    await waitFor(() => c.pendingInputs === 0, 5000, 'the moves acknowledged');
    await waitFor(
      () => {
        const seen = w.entities.get(c.playerId);
        return seen !== undefined && seen.x !== from.x && Math.abs(seen.x - c.self!.x) < 0.05;
      },
      5000,
      () => `the watcher to see the player at ${c.self!.x} (from ${from.x}); it sees ${JSON.stringify(w.entities.get(c.playerId))}`,
    );
    assert.equal(c.stats.malformedFrames + w.stats.malformedFrames, 0);
    return url;
  }

  /** SIGTERM: exit 0 within 5 s. */
  async function stopped(r: Run): Promise<void> {
    for (const c of clients.splice(0)) c.close();
    const t0 = performance.now();
    r.child.kill('SIGTERM');
    const code = await r.exited;
    const ms = performance.now() - t0;
    assert.equal(code, 0, `exit code on SIGTERM; stderr: ${r.stderr().slice(-1000)}`);
    assert.ok(ms < 5000, `stopped in ${ms.toFixed(0)} ms`);
  }

  async function stop(r: Run): Promise<void> {
    await stopped(r);
    assert.ok(r.lines.some((l) => l.msg === 'shutdown complete'));
  }

  test('the binary carries no path into this checkout, and there really is no node on its PATH', () => {
    assert.ok(!readFileSync(bin).includes(Buffer.from(ROOT.replace(/\/$/, ''))), `the binary names ${ROOT}: it would depend on the build machine`);
    const node = spawnSync('node', ['--version'], { env });
    assert.equal((node.error as NodeJS.ErrnoException | undefined)?.code, 'ENOENT', 'node is not on the PATH the binary gets');
  });

  test('--version prints the package version; the first run extracts the embedded files', async () => {
    const r = await runToEnd(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
    assert.equal(cacheOutcome(r.stderr), 'extracted');
    const root = cacheRoot();
    for (const f of ['dist/src/zone/worker.js', 'dist/src/net/gateway-thread.js', 'dist/src/jobs/db-worker.js', 'dist/src/jobs/hash-worker.js', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node', 'native-bindings/build/Release/mmo_native.node']) {
      assert.ok(statSync(join(root, f)).size > 0, f);
    }
    assert.deepEqual(readdirSync(dir), ['mmo-server'], 'nothing written beside the binary');
  });

  test('--check-config: a good file passes; a bad one exits 2 naming the key', async () => {
    writeFileSync(join(work, 'good.yaml'), 'net:\n  port: 7001\nzones:\n  count: 2\n');
    writeFileSync(join(work, 'bad.yaml'), 'net:\n  port: 70000\n');
    const good = await runToEnd(['--config', join(work, 'good.yaml'), '--check-config']);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^configuration OK \(defaults < file .*good\.yaml\)/);
    const bad = await runToEnd(['--config', join(work, 'bad.yaml'), '--check-config']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /net\.port = 70000 \(from file .*bad\.yaml\): allowed an integer from 0 to 65535/);
  });

  test('serves: ready, a guest plays in a zone worker, SIGTERM exits 0; the warm cache is reused, not rewritten', async () => {
    const root = cacheRoot();
    const before = statSync(join(root, 'dist/src/zone/worker.js'));
    const { r } = await serve([], async () => ({ guestName: 'binguest' }));
    assert.equal(cacheOutcome(r.stderr()), 'verified');
    await stop(r);
    const afterRun = statSync(join(root, 'dist/src/zone/worker.js'));
    assert.equal(afterRun.ino, before.ino, 'same file: not extracted again');
    assert.equal(afterRun.mtimeMs, before.mtimeMs);
    assert.equal(cacheRoot(), root);
  });

  test('a tampered cache file is detected and the tree re-extracted', async () => {
    const root = cacheRoot();
    const file = join(root, 'dist/src/zone/worker.js');
    const good = readFileSync(file);
    writeFileSync(file, Buffer.concat([good, Buffer.from('\nglobalThis.tampered = true;\n')]));
    const r = await runToEnd(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(cacheOutcome(r.stderr), 'extracted');
    assert.equal(cacheRoot(), root, 'the same versioned directory, the bad copy removed');
    const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    assert.equal(hash(readFileSync(file)), hash(good), 'the embedded bytes are back');
  });

  test('PostgreSQL (persist.postgresUrl): the pg driver bundled in the database pool thread; an account is saved there', async () => {
    const pg = await startPgCluster();
    try {
      const url = await pg.createDatabase();
      const { r } = await serve([`--persist.postgresUrl=${url}`, `--server.dataDir=${join(work, 'pg-data')}`], async (base) => {
        const reg = await postJson(base, '/auth/register', { name: 'PgUser', password: 'password1' });
        assert.equal(reg.status, 201, reg.body);
        return { token: String(reg.json!.token) };
      });
      assert.ok(r.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('database ready: postgres')), 'on PostgreSQL, not SQLite');
      await stop(r);
    } finally {
      await pg.destroy();
    }
  });

  test('log.pretty=always: readable lines from the pino-pretty bundled inside, to the last one at exit', async () => {
    const r = run(['--net.port=0', '--net.host=127.0.0.1', '--log.pretty=always', ...SMALL_ZONE]);
    const text = () => r.lines.map((l) => (typeof l.raw === 'string' ? l.raw : JSON.stringify(l))).join('\n');
    try {
      await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(text()) || r.child.exitCode !== null, 20_000, () => `the listen line; stderr: ${r.stderr()}`);
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(text())?.[1]);
      assert.ok(port > 0, `no listen line: ${text()} ${r.stderr()}`);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 10_000, '/readyz 200');
    } catch (err) {
      r.child.kill('SIGKILL');
      await r.exited;
      throw err;
    }
    await stopped(r);
    const out = text();
    assert.match(out, new RegExp(`^\\[[\\d:.]+\\] INFO: mmo-server ${VERSION.replace(/\./g, '\\.')} listening on 127\\.0\\.0\\.1:\\d+ \\(uWS native\\)$`, 'm'));
    assert.match(out, /^\[[\d:.]+\] INFO: shutdown complete$/m, 'the last line, written before exit');
    assert.match(out, /^ {4}signal: "SIGTERM"$/m);
    // The main thread's lines are all pretty (zone workers log rare JSON lines of their own).
    for (const l of r.lines) assert.ok(typeof l.raw === 'string' || l.component === 'zone' || 'zone' in l, `a JSON line from the main thread: ${JSON.stringify(l)}`);
    assert.doesNotMatch(out, /\u001b\[/, 'no colour codes when stdout is not a terminal');
  });

  test('world.content: the example module of docs/content.md, beside the binary, loads on the main thread and runs its hooks in the zone', async () => {
    // Node 20's SEA main has no loader behind import(): src/sea/entry.ts gives it one (globalThis.__mmoImport).
    const md = readFileSync(join(ROOT, 'docs/content.md'), 'utf8');
    const m = /<!-- content-example: ([\w.-]+) -->\s*```js\n([\s\S]*?)\n```/.exec(md);
    assert.ok(m, 'docs/content.md has its marked example');
    writeFileSync(join(dir, m[1]!), m[2]!);
    const check = await runToEnd(['--check-config', `--world.content=./${m[1]}`]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, new RegExp(`content ${join(dir, m[1]!).replace(/[.]/g, '\\.')}`));
    assert.doesNotMatch(check.stderr, /Warning/, 'no experimental-feature noise');

    const r = run(['--net.port=0', '--net.host=127.0.0.1', '--log.pretty=never', '--zones.count=1', `--world.content=./${m[1]}`]);
    try {
      await waitFor(() => r.lines.some((l) => typeof l.listen === 'string') || r.child.exitCode !== null, 20_000, () => `the listen line; stderr: ${r.stderr()}`);
      const listen = r.lines.find((l) => typeof l.listen === 'string');
      assert.ok(listen, `exited with ${r.child.exitCode}: ${r.stderr()} ${JSON.stringify(r.lines.slice(-5))}`);
      assert.ok(r.lines.some((l) => l.msg === 'game content loaded' && l.content === 'my-game' && l.hooks === true));
      const url = `http://127.0.0.1:${String(listen.listen).split(':').pop()}`;
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 10_000, '/readyz 200');
      const c = connect(`${url.replace('http', 'ws')}/ws`, { guestName: 'healme' });
      clients.push(c);
      const healed: number[][] = [];
      c.on('custom', (e) => healed.push([e.kind, ...e.data]));
      await c.once('snapshot');
      c.custom(1); // HEAL: onInput answers HEALED (2) with the HP, u16 little-endian
      await waitFor(() => healed.length > 0, 5000, 'the HEALED message from the zone worker');
      assert.equal(healed[0]![0], 2);
      assert.equal(healed[0]![1]! | (healed[0]![2]! << 8), c.self!.maxHp, 'healed to full');
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^mmo_zone_npcs\{zone="1"\} 4$/m, 'the module\'s four dummies');
    } catch (err) {
      r.child.kill('SIGKILL');
      await r.exited;
      throw err;
    }
    await stop(r);
  });

  test('two gateway threads, an account (scrypt and SQLite on piscina pools) plays, SIGTERM exits 0', async () => {
    const { r, url } = await serve(['--net.gatewayThreads=2'], async (base) => {
      const reg = await postJson(base, '/auth/register', { name: 'BinUser', password: 'password1' });
      assert.equal(reg.status, 201, reg.body);
      const login = await postJson(base, '/auth/login', { name: 'BinUser', password: 'password1' });
      assert.equal(login.status, 200, login.body);
      return { token: String(login.json!.token) };
    });
    assert.equal(cacheOutcome(r.stderr()), 'verified');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^mmo_gateway_threads\{state="up"\} 2$/m);
    assert.match(metrics, /^mmo_auth_requests_total\{endpoint="register",result="ok"\} 1$/m);
    await stop(r);
    assert.ok(statSync(join(dir, 'data/mmo.sqlite')).size > 0, 'the default data directory, beside the binary');
  });
});
