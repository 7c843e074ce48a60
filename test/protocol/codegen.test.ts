// The committed generated code (src/protocol/generated/) must be exactly what
// `npm run gen:protocol` produces from src/protocol/mmo.fbs today.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(root, 'scripts/gen-protocol.mjs');
const committed = join(root, 'src/protocol/generated');

function walk(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    })
    .sort();
}

test('committed generated code matches the schema (regenerated with flatc into a temp dir)', () => {
  const out = mkdtempSync(join(tmpdir(), 'mmo-gen-'));
  try {
    const r = spawnSync(process.execPath, [script, '--out', out], { encoding: 'utf8' });
    assert.equal(
      r.status,
      0,
      r.status === 2
        ? `flatc is missing: install the FlatBuffers compiler (apt-get install flatbuffers-compiler, 2.0.8).\n${r.stderr}`
        : `gen-protocol failed:\n${r.stdout}${r.stderr}`,
    );
    const fresh = walk(out).map((f) => relative(out, f));
    const have = walk(committed).map((f) => relative(committed, f));
    assert.deepEqual(have, fresh, 'generated file list differs: run `npm run gen:protocol` and commit the result');
    for (const f of fresh) {
      assert.equal(
        readFileSync(join(committed, f), 'utf8'),
        readFileSync(join(out, f), 'utf8'),
        `src/protocol/generated/${f} is stale: run \`npm run gen:protocol\` and commit the result`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('without flatc the generator fails with an install hint, writing nothing', () => {
  const out = mkdtempSync(join(tmpdir(), 'mmo-gen-'));
  try {
    const r = spawnSync(process.execPath, [script, '--out', join(out, 'gen')], {
      encoding: 'utf8',
      env: { ...process.env, FLATC: join(out, 'no-such-flatc') },
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /apt-get install flatbuffers-compiler/);
    assert.deepEqual(readdirSync(out), []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('imports are fixed for NodeNext: every relative import ends in .js', () => {
  for (const f of walk(committed)) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/from\s+'(\.[^']*)'/g)) assert.ok(m[1]!.endsWith('.js'), `${relative(root, f)}: ${m[1]}`);
  }
});
