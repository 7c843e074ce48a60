// deploy/: the systemd unit is one systemd accepts (systemd-analyze verify,
// when this machine has it) and keeps its hardening; the sysctl file sets the
// keys docs/deploy.md promises. These files are read by systemd and the
// kernel, not by our code, so a typo would only show on a real VM.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { tempDir } from './helpers/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNIT = readFileSync(join(ROOT, 'deploy/mmo-server.service'), 'utf8');

/** section -> key -> every value given (systemd keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) {
      section = new Map();
      out.set(head[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section && eq > 0, `line ${i + 1} is neither a section nor key=value: ${line}`);
    const key = line.slice(0, eq);
    const vals = section.get(key) ?? [];
    vals.push(line.slice(eq + 1));
    section.set(key, vals);
  }
  return out;
}

function hasSystemdAnalyze(): boolean {
  return spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
}

describe('deploy/mmo-server.service', () => {
  const unit = parseUnit(UNIT);
  const svc = unit.get('Service')!;
  const one = (k: string): string | undefined => svc.get(k)?.at(-1);

  test('has the hardening keys and limits the deployment guide relies on', () => {
    assert.ok(unit.has('Unit') && svc && unit.has('Install'));
    const want: Record<string, string> = {
      Type: 'simple',
      Restart: 'on-failure',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      DynamicUser: 'yes',
      StateDirectory: 'mmo-server',
      CacheDirectory: 'mmo-server',
      StandardOutput: 'journal',
      CapabilityBoundingSet: '',
      KillSignal: 'SIGTERM',
    };
    for (const [k, v] of Object.entries(want)) assert.equal(one(k), v, `${k}`);
    assert.ok(Number(one('LimitNOFILE')) >= 20_000, 'LimitNOFILE holds 10,000 sockets and more');
    const rw = (one('ReadWritePaths') ?? '').split(/\s+/);
    assert.ok(rw.includes('/var/lib/mmo-server'), 'the data dir is writable');
    assert.ok(rw.includes('/var/cache/mmo-server'), 'the native-part cache is writable');
    // Config exits 2 and 3 are not retried.
    assert.deepEqual((one('RestartPreventExitStatus') ?? '').split(/\s+/).sort(), ['2', '3']);
    // Readiness comes from /readyz, not from "the process exists".
    assert.match(one('ExecStartPost') ?? '', /\/readyz/);
    // threads.pinning needs sched_setaffinity (@resources): never denied.
    for (const f of svc.get('SystemCallFilter') ?? []) {
      if (f.startsWith('~')) assert.ok(!f.includes('@resources'), `SystemCallFilter denies @resources: ${f}`);
    }
    // V8's JIT needs W+X pages.
    assert.notEqual(one('MemoryDenyWriteExecute'), 'yes');
  });

  test('the data dir in the unit is the one config/production-8core.yaml uses', () => {
    const prod = readFileSync(join(ROOT, 'config/production-8core.yaml'), 'utf8');
    assert.match(prod, /^\s*dataDir:\s*\/var\/lib\/mmo-server\s*$/m);
    assert.equal(one('WorkingDirectory'), '/var/lib/mmo-server');
  });

  test('systemd-analyze verify accepts it with no warning', () => {
    if (!hasSystemdAnalyze()) {
      // No systemd tools: the parse above is the check this machine can make.
      assert.ok(parseUnit(UNIT).size >= 3);
      return;
    }
    // verify insists that ExecStart's program exists: point it at one that does.
    const dir = tempDir('mmo-unit-');
    const f = join(dir, 'mmo-server.service');
    writeFileSync(f, UNIT.replace('/usr/local/bin/mmo-server', '/bin/true'));
    const r = spawnSync('systemd-analyze', ['verify', f], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const complaints = r.stderr.split('\n').filter((l) => l.includes(f));
    assert.deepEqual(complaints, [], 'systemd-analyze verify warned about the unit');
  });

  test('a typo in a key is caught by this test\'s own check', () => {
    // The checks above read the parsed unit: prove the parser sees a broken key.
    const broken = parseUnit(UNIT.replace('ProtectSystem=strict', 'ProtectSytem=strict'));
    assert.equal(broken.get('Service')!.get('ProtectSystem'), undefined);
  });
});

describe('deploy/99-mmo-server.conf', () => {
  test('sets every sysctl docs/deploy.md lists, each key one the kernel knows', () => {
    const text = readFileSync(join(ROOT, 'deploy/99-mmo-server.conf'), 'utf8');
    const keys = new Map<string, string>();
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const m = /^([a-z0-9_.-]+)\s*=\s*(.+)$/.exec(line);
      assert.ok(m, `not key = value: ${line}`);
      keys.set(m[1]!, m[2]!);
    }
    for (const k of ['net.core.somaxconn', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_tw_reuse', 'fs.file-max']) {
      assert.ok(keys.has(k), `${k} missing`);
    }
    const doc = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
    for (const k of keys.keys()) {
      assert.ok(doc.includes(k), `docs/deploy.md does not mention ${k}`);
      // Only where /proc/sys exists (Linux): the key is a real kernel setting.
      if (existsSync('/proc/sys/net')) {
        assert.ok(existsSync('/proc/sys/' + k.replaceAll('.', '/')), `${k} is not a kernel setting here`);
      }
    }
  });
});
