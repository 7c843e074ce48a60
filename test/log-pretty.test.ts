// log.pretty: human-readable lines from pino-pretty as a synchronous stream in
// the process (src/log/pretty.ts), the same code in `node dist/src/main.js`
// and in the standalone binary (test/binary.test.ts runs it there). A logger
// asked for pretty output without the stream refuses, naming the key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { MAIN, tempDir } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { createLogger, LOG_PRETTY_UNAVAILABLE } from '../src/log/logger.js';
import { prettyStream } from '../src/log/pretty.js';

test('the server with log.pretty=always: readable lines on a pipe, no colour, the last one out before exit 0', async () => {
  const child = spawn(process.execPath, [MAIN, '--net.port=0', '--net.host=127.0.0.1', '--log.pretty=always', `--server.dataDir=${tempDir()}`, '--zones.npcsPerZone=0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = once(child, 'exit');
  try {
    await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(out) || child.exitCode !== null, 20_000, () => `the listen line; stderr: ${err}`);
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    assert.ok(port > 0, `no listen line: ${out} ${err}`);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 10_000, '/readyz 200');
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = await exited;
  assert.equal(code, 0, err);
  assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: mmo-server \S+ listening on 127\.0\.0\.1:\d+ \(uWS native\)$/m);
  assert.match(out, /^ {4}listen: "127\.0\.0\.1:\d+"$/m, 'fields below the message');
  assert.match(out, /^\[[\d:.]+\] INFO: shutdown complete$/m);
  assert.doesNotMatch(out, /"msg":"mmo-server/, 'the main thread wrote no JSON line');
  assert.doesNotMatch(out, /\u001b\[/, 'no colour codes when stdout is not a terminal');
});

test('prettyStream formats synchronously; createLogger refuses pretty output without it, naming log.pretty', () => {
  assert.throws(() => createLogger({ level: 'info', pretty: 'always' }), (e: Error & { code?: string }) => e.code === LOG_PRETTY_UNAVAILABLE && /log\.pretty = always/.test(e.message));
  // The stream itself, on a writable we hold: each line is formatted as it is logged.
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ level: 'info', pretty: 'always' }, { pretty: prettyStream(false, sink) });
  log.info({ zone: 3 }, 'zone up');
  assert.equal(lines.length, 1, 'written before info() returned');
  assert.match(lines[0]!, /^\[[\d:.]+\] INFO: zone up\n {4}zone: 3\n$/);
});
