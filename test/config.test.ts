import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, defaultConfig, envName, ConfigError, renderConfigYaml, redactConfig, redactUrl } from '../src/config/index.js';
import { tempDir, runCli } from './helpers/server.js';

const CONFIG_DIR = fileURLToPath(new URL('../../config/', import.meta.url));

function writeYaml(text: string): string {
  const f = join(tempDir(), 'c.yaml');
  writeFileSync(f, text);
  return f;
}

function rejection(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'MMO_ERR_CONFIG');
    return err;
  }
  assert.fail('expected the configuration to be rejected');
}

describe('config validation names the key, the value and what is allowed', () => {
  test('integer out of range', () => {
    const err = rejection(() => loadConfig({ argv: ['--net.port=70000'], env: {} }));
    assert.equal(err.issues.length, 1);
    assert.deepEqual(err.issues[0], { key: 'net.port', value: 70000, source: 'cli --net.port', allowed: 'an integer from 0 to 65535' });
    assert.match(err.message, /net\.port = 70000 \(from cli --net\.port\): allowed an integer from 0 to 65535/);
  });

  test('wrong type in a file', () => {
    const f = writeYaml('net:\n  maxPayloadLength: big\n');
    const err = rejection(() => loadConfig({ argv: ['--config', f], env: {} }));
    assert.equal(err.issues[0]!.key, 'net.maxPayloadLength');
    assert.equal(err.issues[0]!.value, 'big');
    assert.equal(err.issues[0]!.source, `file ${f}`);
    assert.equal(err.issues[0]!.allowed, 'an integer from 64 to 16777216');
  });

  test('not one of an enumeration', () => {
    const err = rejection(() => loadConfig({ argv: [], env: { MMO_LOG__LEVEL: 'verbose' } }));
    assert.equal(err.issues[0]!.key, 'log.level');
    assert.match(err.issues[0]!.allowed, /^one of "fatal", "error", "warn", "info", "debug", "trace", "silent"$/);
    assert.equal(err.issues[0]!.source, 'env MMO_LOG__LEVEL');
  });

  test('a union of ranges (uWS idleTimeout: 0 or 9..960)', () => {
    const err = rejection(() => loadConfig({ argv: ['--net.idleTimeout=5'], env: {} }));
    assert.equal(err.issues[0]!.allowed, '0 or an integer from 9 to 960');
    assert.equal(loadConfig({ argv: ['--net.idleTimeout=0'], env: {} }).config.net.idleTimeout, 0);
  });

  test('string pattern and boolean', () => {
    const err = rejection(() => loadConfig({ argv: ['--net.wsPath=ws', '--net.allowSlowFallback=maybe'], env: {} }));
    const keys = err.issues.map((i) => i.key).sort();
    assert.deepEqual(keys, ['net.allowSlowFallback', 'net.wsPath']);
    assert.match(err.issues.find((i) => i.key === 'net.wsPath')!.allowed, /matching/);
    assert.equal(err.issues.find((i) => i.key === 'net.allowSlowFallback')!.allowed, 'true or false');
  });

  test('unknown keys are errors with a suggestion, in every layer', () => {
    const f = writeYaml('net:\n  prot: 80\n');
    const fileErr = rejection(() => loadConfig({ argv: ['--config', f], env: {} }));
    assert.equal(fileErr.issues[0]!.key, 'net.prot');
    assert.match(fileErr.issues[0]!.allowed, /did you mean net\.port\?/);

    const envErr = rejection(() => loadConfig({ argv: [], env: { MMO_NET__PROT: '80' } }));
    assert.equal(envErr.issues[0]!.key, 'MMO_NET__PROT');
    assert.match(envErr.issues[0]!.allowed, /did you mean MMO_NET__PORT\?/);

    const cliErr = rejection(() => loadConfig({ argv: ['--net.prot=80'], env: {} }));
    assert.match(cliErr.message, /net\.prot/);
    assert.match(cliErr.message, /did you mean --net\.port\?/);
  });

  test('a section that is not a mapping, bad YAML, missing file', () => {
    const err = rejection(() => loadConfig({ argv: ['--config', writeYaml('net: 5\n')], env: {} }));
    assert.equal(err.issues[0]!.key, 'net');
    assert.match(rejection(() => loadConfig({ argv: ['--config', writeYaml('net:\n  port: [1,\n')], env: {} })).message, /not valid YAML at line/);
    assert.match(rejection(() => loadConfig({ argv: ['--config', '/nonexistent/x.yaml'], env: {} })).message, /cannot read config file .*ENOENT/);
  });

  test('all bad keys are reported at once', () => {
    const err = rejection(() => loadConfig({ argv: ['--net.port=-1', '--server.shutdownTimeoutMs=5'], env: { MMO_LOG__PRETTY: 'sometimes' } }));
    assert.deepEqual(err.issues.map((i) => i.key).sort(), ['log.pretty', 'net.port', 'server.shutdownTimeoutMs']);
  });
});

describe('config precedence: defaults < file < env < CLI', () => {
  test('each layer overrides the one before it, key by key', () => {
    const f = writeYaml('net:\n  port: 1001\n  host: 127.0.0.2\n  maxBackpressure: 65536\nlog:\n  level: warn\n');
    const env = { MMO_NET__PORT: '1002', MMO_NET__HOST: '127.0.0.3' };
    const { config, sources, file } = loadConfig({ argv: ['--config', f, '--net.port=1003'], env });
    assert.equal(config.net.port, 1003, 'CLI beats env and file');
    assert.equal(config.net.host, '127.0.0.3', 'env beats file');
    assert.equal(config.net.maxBackpressure, 65536, 'file beats defaults');
    assert.equal(config.log.level, 'warn');
    assert.equal(config.net.wsPath, '/ws', 'untouched keys keep their defaults');
    assert.equal(file, f);
    assert.deepEqual(sources, ['defaults', `file ${f}`, 'env MMO_NET__HOST,MMO_NET__PORT', 'cli --net.port']);
  });

  test('MMO_CONFIG names the file when --config is absent', () => {
    const f = writeYaml('net:\n  port: 4242\n');
    assert.equal(loadConfig({ argv: [], env: { MMO_CONFIG: f } }).config.net.port, 4242);
  });

  test('env names follow MMO_<SECTION>__<KEY> with camelCase split by underscores', () => {
    assert.equal(envName('net.port'), 'MMO_NET__PORT');
    assert.equal(envName('net.maxPayloadLength'), 'MMO_NET__MAX_PAYLOAD_LENGTH');
    const { config } = loadConfig({ argv: [], env: { MMO_NET__MAX_PAYLOAD_LENGTH: '8192', MMO_NET__SEND_PINGS_AUTOMATICALLY: 'false' } });
    assert.equal(config.net.maxPayloadLength, 8192);
    assert.equal(config.net.sendPingsAutomatically, false);
  });

  test('unrelated MMO_ variables without a double underscore are ignored', () => {
    assert.doesNotThrow(() => loadConfig({ argv: [], env: { MMO_SOMETHING: 'x' } }));
  });

  test('no file, no env: the embedded defaults, with the issue\'s listen address', () => {
    const { config, sources } = loadConfig({ argv: [], env: {} });
    assert.deepEqual(config, defaultConfig());
    assert.equal(config.net.host, '0.0.0.0');
    assert.equal(config.net.port, 7777);
    assert.equal(config.net.wsPath, '/ws');
    assert.deepEqual(sources, ['defaults']);
  });
});

describe('shipped config files', () => {
  test('config/default.yaml is what the schema generates, and loads to the defaults', () => {
    const committed = readFileSync(join(CONFIG_DIR, 'default.yaml'), 'utf8');
    assert.equal(committed, renderConfigYaml(defaultConfig(), { comments: true }), 'config/default.yaml is stale: run npm run gen:config');
    const { config } = loadConfig({ argv: ['--config', join(CONFIG_DIR, 'default.yaml')], env: {} });
    assert.deepEqual(config, defaultConfig());
  });

  test('every key in default.yaml is documented with its default and allowed values', () => {
    const text = readFileSync(join(CONFIG_DIR, 'default.yaml'), 'utf8');
    const keyLines = text.split('\n').filter((l) => /^\s+[a-zA-Z]+: /.test(l));
    assert.ok(keyLines.length >= 10);
    const lines = text.split('\n');
    for (const kl of keyLines) {
      const i = lines.indexOf(kl);
      assert.match(lines[i - 1]!, /# default: .*; allowed: .*; env: MMO_/, `key line "${kl}" lacks its documentation`);
    }
  });

  test('config/production-8core.yaml validates and differs from the defaults where an 8-core VM needs it', () => {
    const { config } = loadConfig({ argv: ['--config', join(CONFIG_DIR, 'production-8core.yaml')], env: {} });
    assert.notDeepEqual(config, defaultConfig());
    assert.equal(config.log.pretty, 'never');
  });
});

describe('CLI', () => {
  test('--help prints usage and exits 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: mmo-server/);
    assert.match(r.stdout, /--check-config/);
  });

  test('--check-config validates and exits 0, or names the key and exits 2', async () => {
    const ok = await runCli(['--check-config', '--net.port=9000']);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /configuration OK \(defaults < cli --net\.port\)/);
    const bad = await runCli(['--check-config'], { MMO_NET__PORT: 'eighty' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /net\.port = "eighty" \(from env MMO_NET__PORT\): allowed an integer from 0 to 65535/);
  });

  test('--print-config prints the merged result as YAML', async () => {
    const r = await runCli(['--print-config', '--net.port=9001'], { MMO_LOG__LEVEL: 'debug' });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^net:\n(?:.*\n)*?\s+port: 9001$/m);
    assert.match(r.stdout, /level: debug/);
  });

  test('a bad config at start-up exits 2 without listening', async () => {
    const r = await runCli(['--net.maxBackpressure=1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /net\.maxBackpressure = 1 .*allowed an integer from 4096 to 268435456/);
  });

  test('--check-config refuses what start-up refuses: a short auth.tokenSecret, pool.maxPages not a multiple, exit 2 naming the key', async () => {
    const secret = await runCli(['--check-config'], { MMO_AUTH__TOKEN_SECRET: 'short-secret' });
    assert.equal(secret.code, 2, secret.stdout + secret.stderr);
    assert.match(secret.stderr, /auth\.tokenSecret .*\(from env MMO_AUTH__TOKEN_SECRET\): allowed empty \(a generated secret\) or at least 32 bytes/);
    assert.doesNotMatch(secret.stderr, /short-secret/, 'the secret is not echoed');
    assert.doesNotMatch(secret.stderr, /\n\s+at /, 'no stack trace');
    const pool = await runCli(['--check-config', '--pool.maxPages=100', '--pool.pagesPerSet=64']);
    assert.equal(pool.code, 2);
    assert.match(pool.stderr, /pool\.maxPages = 100 \(from cli --pool\.maxPages\): allowed a multiple of pool\.pagesPerSet \(64\)/);
    const pinning = await runCli(['--check-config', '--threads.pinning={"gateway":"4000"}']);
    assert.equal(pinning.code, 2, pinning.stdout + pinning.stderr);
    assert.match(pinning.stderr, /threads\.pinning\.gateway .*CPU 4000 is not available/);
  });

  test('start-up with a short auth.tokenSecret exits 2 with the key, not 1 with a stack trace', async () => {
    const r = await runCli(['--net.port=0', '--net.host=127.0.0.1', `--server.dataDir=${tempDir()}`], { MMO_AUTH__TOKEN_SECRET: 'short' });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /auth\.tokenSecret/);
  });

  test('an unknown command-line key reads like the env and file cases: key, value, source, suggestion', async () => {
    const r = await runCli(['--net.prot=80']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'mmo-server: invalid configuration:\n  - --net.prot = "80" (from command line): allowed no such option (did you mean --net.port?)\n');
    const spaced = await runCli(['--net.prot', '81', '--log.levl=debug']);
    assert.equal(spaced.code, 2);
    assert.match(spaced.stderr, /--net\.prot = "81" \(from command line\)/);
    assert.match(spaced.stderr, /--log\.levl = "debug" \(from command line\): allowed no such option \(did you mean --log\.level\?\)/);
  });

  test('--print-config masks secrets: auth.tokenSecret, the password in persist.postgresUrl', async () => {
    const r = await runCli(['--print-config', '--persist.postgresUrl=postgres://mmo:hunter2pw@db.example:5432/mmo'], { MMO_AUTH__TOKEN_SECRET: 'x'.repeat(40) });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /hunter2pw/);
    assert.doesNotMatch(r.stdout, /xxxxxxxx/);
    assert.match(r.stdout, /postgresUrl: postgres:\/\/mmo:\*\*\*@db\.example:5432\/mmo/);
    assert.match(r.stdout, /tokenSecret: "\*\*\*"/);
    // The config itself still holds the real values (only the printout is masked).
    const { config } = loadConfig({ argv: [], env: { MMO_AUTH__TOKEN_SECRET: 'y'.repeat(40) } });
    assert.equal(redactConfig(config).auth.tokenSecret, '***');
    assert.equal(config.auth.tokenSecret, 'y'.repeat(40));
    assert.equal(redactUrl('postgres://db:5432/mmo'), 'postgres://db:5432/mmo');
  });
});
