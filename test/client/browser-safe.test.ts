// The SDK must load in a browser: nothing statically reachable from
// src/client/index.ts may import a Node built-in, and the only package it
// imports statically is the flatbuffers runtime (`ws` is loaded lazily in Node).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('nothing reachable from src/client/index.ts imports node: modules; packages: flatbuffers only', () => {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [join(root, 'src/client/index.ts')];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    // Static imports and re-exports (type-only ones vanish at runtime and are skipped).
    for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm)) {
      if (m[2]) continue;
      const spec = m[3]!;
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
    for (const m of src.matchAll(/^\s*import\s+'([^']+)'/gm)) packages.add(m[1]!);
  }
  const nodeOnes = [...packages].filter((p) => p.startsWith('node:') || builtinModules.includes(p));
  assert.deepEqual(nodeOnes, [], `files: ${[...seen].map((f) => relative(root, f)).join(', ')}`);
  assert.deepEqual([...packages].sort(), ['flatbuffers']);
  assert.ok(seen.has(join(root, 'src/protocol/verify.ts')), 'the walk follows imports');
  const client = readFileSync(join(root, 'src/client/client.ts'), 'utf8');
  assert.match(client, /await import\('ws'\)/, 'ws is imported lazily');
});
