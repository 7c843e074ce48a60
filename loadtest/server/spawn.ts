// Starts a server binary for a load test: ours (dist/src/main.js, never
// `npm start`, which does not pass SIGTERM on) with a temporary config file
// and data directory on 127.0.0.1, guests on; or any peer script that prints
// a JSON line with `listen`. Stops it with SIGTERM, then SIGKILL after a
// timeout; a spawned server is killed when this process exits, whatever happens.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const SERVER_MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface SpawnedServer {
  child: ChildProcess;
  pid: number;
  port: number;
  /** ws://127.0.0.1:<port>/ws */
  wsUrl: string;
  /** http://127.0.0.1:<port> */
  httpUrl: string;
  dataDir: string;
  /** Last lines of output (stdout and stderr), for diagnostics. */
  tail(): string[];
  /** SIGTERM, then SIGKILL after killAfterMs. Resolves with the exit code (null when killed by a signal). */
  stop(killAfterMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** Script to run with node; default the server's main. */
  script?: string;
  /** Extra arguments (for our server: `--section.key=value`). */
  args?: string[];
  /** Our server only: keys written into the temporary YAML config (dotted paths or nested objects). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Node flags (e.g. --max-old-space-size). */
  nodeArgs?: string[];
  startTimeoutMs?: number;
  /** Keep this many output lines. Default 200. */
  tailLines?: number;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
// A signal ends a Node process without 'exit' handlers: take the servers down with us.
let signalsHooked = false;
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(sig, () => {
      for (const c of live) c.kill('SIGKILL');
      process.exit(code);
    });
  }
}

/** Sets a dotted key ('net.host') in a nested object. */
function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof o[p] !== 'object' || o[p] === null) o[p] = {};
    o = o[p] as Record<string, unknown>;
  }
  o[parts[parts.length - 1]!] = value;
}

export async function spawnServer(opts: SpawnOptions = {}): Promise<SpawnedServer> {
  const ours = opts.script === undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'mmo-loadtest-'));
  const args: string[] = [];
  if (ours) {
    const cfg: Record<string, unknown> = {};
    const base: Record<string, unknown> = {
      'server.dataDir': dataDir,
      'net.host': '127.0.0.1',
      'net.port': 0,
      'auth.guests': true,
      'log.pretty': 'never',
      'log.level': 'info',
      // CI runs the load-test tests again with the gateway on N threads (a scenario's own net.gatewayThreads wins).
      ...(process.env.MMO_TEST_GATEWAY_THREADS ? { 'net.gatewayThreads': Number(process.env.MMO_TEST_GATEWAY_THREADS) } : {}),
    };
    for (const [k, v] of Object.entries({ ...base, ...opts.config })) setPath(cfg, k, v);
    const file = join(dataDir, 'loadtest.yaml');
    writeFileSync(file, `# written by the load-test driver\n${stringify(cfg)}`);
    args.push(opts.script ?? SERVER_MAIN, '--config', file);
  } else {
    args.push(opts.script!);
  }
  args.push(...(opts.args ?? []));
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  hookSignals();
  const keep = opts.tailLines ?? 200;
  const lines: string[] = [];
  let onLine: ((l: string) => void) | null = null;
  const reader = (stream: NodeJS.ReadableStream) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (lines.length > keep) lines.shift();
        onLine?.(line);
      }
      if (buf.length > 1 << 20) buf = ''; // a runaway line: drop it rather than grow
    });
  };
  reader(child.stdout!);
  reader(child.stderr!);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  const cleanup = () => rmSync(dataDir, { recursive: true, force: true });
  void exited.then(cleanup, cleanup);

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not report a listen address within ${opts.startTimeoutMs ?? 20_000} ms; output: ${lines.slice(-10).join('\n')}`));
    }, opts.startTimeoutMs ?? 20_000);
    onLine = (line) => {
      const m = /"listen":\s*"?(?:[\d.]+:)?(\d+)"?/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      onLine = null;
      resolve(Number(m[1]));
    };
    for (const l of lines) onLine?.(l);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening; output: ${lines.slice(-10).join('\n')}`));
    });
  });

  return {
    child,
    pid: child.pid!,
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    dataDir,
    tail: () => [...lines],
    exited,
    stop: async (killAfterMs = 8000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
