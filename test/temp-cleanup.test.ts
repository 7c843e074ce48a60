// Tests leave no /tmp/mmo-test-* folders behind, even when they fail: the
// helper's folders are removed when the test process exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

test('a test process that fails after tempDir() and startServer() leaves its temp dir empty', async (t) => {
  // The child's TMPDIR is a folder of our own, so other users of /tmp do not count.
  const scratch = mkdtempSync(join(tmpdir(), 'mmo-cleanup-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/temp-leak.js', import.meta.url))], {
    env: { ...process.env, TMPDIR: scratch },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  const [code] = await once(child, 'exit');
  assert.notEqual(code, 0, 'the fixture fails on purpose');
  const made = JSON.parse(out.trim().split('\n').pop()!) as { plain: string; port: number };
  assert.ok(made.plain.startsWith(scratch), 'the helper made its folder under TMPDIR');
  assert.ok(made.port > 0, 'the server started');
  assert.deepEqual(readdirSync(scratch), []);
});
