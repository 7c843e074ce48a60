// The NATS link against a real nats-server started on a free loopback port.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { freePort } from './helpers/pg-cluster.js';
import { waitFor } from './helpers/wait.js';
import { NatsLink } from '../src/cluster/link.js';
import { createLogger } from '../src/log/logger.js';

test('two links exchange a message through nats-server and count it', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const nats = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  try {
    const log = createLogger({ level: 'silent', pretty: 'never' });
    let a: NatsLink | null = null;
    await waitFor(async () => {
      try {
        a = await NatsLink.connect({ url: `nats://127.0.0.1:${port}`, name: 'a', log, timeoutMs: 500 });
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    const b = await NatsLink.connect({ url: `nats://127.0.0.1:${port}`, name: 'b', log, timeoutMs: 2000 });
    const got: number[][] = [];
    b.subscribe('mmo.test', (d) => got.push([...d]));
    await b.flush();
    a!.publish('mmo.test', new Uint8Array([1, 2, 3]));
    await waitFor(() => got.length === 1, 5000);
    assert.deepEqual(got, [[1, 2, 3]]);
    assert.equal(a!.msgsOut, 1);
    assert.equal(b.msgsIn, 1);
    await a!.close();
    await b.close();
  } finally {
    nats.kill('SIGKILL');
  }
});
