// packages/client: the SDK as its own package. The bundle is built into a
// throwaway node_modules/mmo-client that sits next to nothing but `ws` (its
// optional peer), so whatever it would need of the server (uWS,
// better-sqlite3, pg, piscina) cannot resolve: it holds none of it, and the
// example of docs/getting-started.md runs with it against a real server.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

/** A project folder with node_modules/mmo-client (freshly built) and node_modules/ws, nothing else. */
function project(): { dir: string; dist: string } {
  const dir = tempDir('mmo-client-pkg-');
  const pkg = join(dir, 'node_modules', 'mmo-client');
  const dist = join(pkg, 'dist');
  mkdirSync(pkg, { recursive: true });
  const r = spawnSync(process.execPath, [join(root, 'scripts/build-client.mjs'), '--out', dist, '--quiet'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  copyFileSync(join(root, 'packages/client/package.json'), join(pkg, 'package.json'));
  symlinkSync(join(root, 'node_modules', 'ws'), join(dir, 'node_modules', 'ws'), 'dir');
  return { dir, dist };
}

const built = project();

test('the bundle is made of src/client, src/protocol and flatbuffers only, and imports nothing but ws', () => {
  const meta = JSON.parse(readFileSync(join(built.dist, 'meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
  const inputs = Object.keys(meta.inputs);
  assert.ok(inputs.length > 10);
  const foreign = inputs.filter((p) => !/^(src\/client\/|src\/protocol\/|node_modules\/flatbuffers\/)/.test(p));
  assert.deepEqual(foreign, [], 'no input from the server');
  for (const file of ['mmo-client.js', 'mmo-client.min.js']) {
    const code = readFileSync(join(built.dist, file), 'utf8');
    const specifiers = new Set<string>();
    for (const m of code.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)|\bfrom\s*["']([^"']+)["']|\bimport\s*["']([^"']+)["']/g)) specifiers.add(m[1] ?? m[2] ?? m[3]!);
    assert.deepEqual([...specifiers], ['ws'], `${file} imports only ws (and only under Node)`);
    assert.doesNotMatch(code, /\brequire\s*\(/, `${file} has no require()`);
    for (const server of ['uws-js-unofficial', 'uWebSockets', 'better-sqlite3', 'piscina', 'pino', '"pg"', 'node:']) assert.ok(!code.includes(server), `${file} mentions ${server}`);
  }
  const types = readFileSync(join(built.dist, 'types/client/index.d.ts'), 'utf8');
  assert.match(types, /export \{ connect, MmoClient \}/);
});

test('the package works in Node against a real server: the getting-started example runs as printed', { timeout: 60_000 }, async () => {
  const s = await startServer({ args: ['--zones.count=1', '--zones.npcsPerZone=5'] });
  servers.push(s);
  const doc = readFileSync(join(root, 'docs/getting-started.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## A first client'));
  const example = /```js\n([\s\S]*?)```/.exec(section)![1]!;
  assert.ok(example.split('\n').length <= 40, 'a short example');
  const file = join(built.dir, 'first.mjs');
  writeFileSync(file, example);
  const child = spawn(process.execPath, [file], { cwd: built.dir, env: { ...process.env, MMO_SERVER: s.url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, `the example failed: ${err}\n${out}`);
  assert.match(out, /^welcome guest_demo: entity \d+ in zone 1$/m);
  assert.match(out, /^at [\d.]+,[\d.]+ with 100 hp; \d+ entities in view$/m);
  assert.match(out, /^moved to [\d.]+,[\d.]+$/m);
  assert.match(out, /^ping [\d.]+ ms$/m);
  const at = /^at ([\d.]+),([\d.]+)/m.exec(out)!;
  const moved = /^moved to ([\d.]+),([\d.]+)$/m.exec(out)!;
  assert.ok(Math.abs(Number(moved[1]) - Number(at[1]) - 2) < 0.1 && Number(moved[2]) === Number(at[2]), 'the predicted position followed the move');
});
