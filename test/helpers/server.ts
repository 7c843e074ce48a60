// Starts the real server binary (dist/src/main.js) in a child process on an
// ephemeral port and hands back its port and log lines. Every test server is
// killed when the test process exits, so a failing test leaves nothing behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export type LogLine = Record<string, unknown>;

export interface TestServer {
  child: ChildProcess;
  port: number;
  url: string;
  wsUrl: string;
  /** Every stdout line so far, parsed as JSON ({ raw } when it is not). */
  logs: LogLine[];
  stderr(): string;
  /** Resolves with the first log line matching pred, past or future. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Signals the process (SIGTERM by default) and resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();
// Every folder tempDir() made, removed when the test process exits however
// it exits (a failed assertion, an uncaught error), after its servers are killed.
const temps = new Set<string>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
  for (const d of temps) removeDir(d);
});

function removeDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort at exit: a folder another user's process still holds stays
  }
  temps.delete(dir);
}

/** Calls fn with each line of a child's stdout, parsed as JSON ({ raw } when it is not). */
export function onLogLines(stream: NodeJS.ReadableStream, fn: (line: LogLine) => void): void {
  let buf = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let obj: LogLine;
      try {
        obj = JSON.parse(line) as LogLine;
      } catch {
        obj = { raw: line };
      }
      fn(obj);
    }
  });
}

/** A fresh folder under the OS temp dir, removed when the test process exits. */
export function tempDir(prefix = 'mmo-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.add(dir);
  return dir;
}

/**
 * MMO_TEST_GATEWAY_THREADS=N runs every spawned test server with N gateway
 * threads (CI runs the session, storm and protocol tests again at 2); a
 * test's own --net.gatewayThreads comes later and wins.
 */
export function gatewayThreadArgs(): string[] {
  const n = process.env.MMO_TEST_GATEWAY_THREADS;
  return n ? [`--net.gatewayThreads=${n}`] : [];
}

export interface StartOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Resolve once the process has exited instead of once it listens (start-up failures). */
  expectExit?: boolean;
  timeoutMs?: number;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = tempDir();
  const child = spawn(
    process.execPath,
    [MAIN, '--net.port=0', '--net.host=127.0.0.1', '--log.pretty=never', `--server.dataDir=${dataDir}`, ...gatewayThreadArgs(), ...(opts.args ?? [])],
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  const logs: LogLine[] = [];
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let stderr = '';
  onLogLines(child.stdout!, (obj) => {
    logs.push(obj);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.pred(obj)) {
        waiters[i]!.resolve(obj);
        waiters.splice(i, 1);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = once(child, 'exit').then(([code]) => {
    live.delete(child);
    removeDir(dataDir); // only this server used it
    return code as number | null;
  });

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 10_000) => {
    const found = logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`log line not seen within ${timeoutMs} ms; stderr: ${stderr.slice(-500)}; last logs: ${JSON.stringify(logs.slice(-3))}`)),
        timeoutMs,
      );
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
    });
  };

  const server: TestServer = {
    child,
    port: -1,
    url: '',
    wsUrl: '',
    logs,
    stderr: () => stderr,
    waitForLog,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
  if (opts.expectExit) {
    await exited;
    return server;
  }
  const started = await Promise.race([
    waitForLog((l) => typeof l.listen === 'string', opts.timeoutMs ?? 15_000),
    exited.then((code) => {
      throw new Error(`server exited with ${code} before listening; stderr: ${stderr}; logs: ${JSON.stringify(logs)}`);
    }),
  ]);
  server.port = Number(String(started.listen).split(':').pop());
  server.url = `http://127.0.0.1:${server.port}`;
  server.wsUrl = `ws://127.0.0.1:${server.port}/ws`;
  return server;
}

/** Runs the binary to completion (for --help, --check-config, bad configs). */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

/** Scrapes /metrics and returns the value of one sample (name plus optional label text), or undefined. */
export async function metricValue(baseUrl: string, sample: string): Promise<number | undefined> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}
