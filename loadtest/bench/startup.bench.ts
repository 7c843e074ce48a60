// Start-up time of the standalone binary against `node dist/src/main.js`, in
// the same run, on embedded defaults (zones.count 0: CPUs - 1 zones of 200 NPCs, SQLite in a fresh
// data directory, port 0 on 127.0.0.1):
//   - node:        node dist/src/main.js (the baseline)
//   - binary-cold: dist/bin/mmo-server with an empty cache directory (it
//                  extracts its embedded files first)
//   - binary-warm: the same with the cache already in place (checked by hash)
// Each start is timed from spawn to the "listening" log line (listenMs) and to
// the first 200 from /readyz, polled every 2 ms from then on (readyMs); then
// SIGTERM and the time to exit 0 (stopMs). The variants take turns, round
// after round, so each sees the same background load; medians over the rounds.
// `--version` is timed too: the process's own cost, before any server.
//
// `npm run build:binary && npm run bench -- startup [--json]`
// (refuses a binary older than what it embeds: it would time an old build)

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report, median } from './harness.js';
import { BINARY, ROOT, binaryStaleness } from '../../test/helpers/binary.js';

const BIN = BINARY;
const MAIN = join(ROOT, 'dist/src/main.js');
const ROUNDS = Number(process.env.STARTUP_ROUNDS ?? 9);

const stale = binaryStaleness();
if (stale) {
  console.error(`startup bench: ${BIN} is ${stale}: run npm run build:binary first`);
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'mmo-startup-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const warmCache = join(work, 'warm-cache');
mkdirSync(warmCache);
let seq = 0;

type Variant = 'node' | 'binary-cold' | 'binary-warm';

function command(v: Variant): { file: string; argv: string[]; cache: string } {
  if (v === 'node') return { file: process.execPath, argv: [MAIN], cache: join(work, 'unused-cache') };
  if (v === 'binary-warm') return { file: BIN, argv: [], cache: warmCache };
  const cold = join(work, `cold-${seq++}`);
  mkdirSync(cold);
  return { file: BIN, argv: [], cache: cold };
}

function envFor(cache: string): NodeJS.ProcessEnv {
  // The same for every variant; nothing of this shell's MMO_* settings.
  return { PATH: '/usr/bin:/bin', HOME: work, TMPDIR: work, XDG_CACHE_HOME: cache };
}

async function timeVersion(v: Variant): Promise<number> {
  const c = command(v);
  const t0 = performance.now();
  const child = spawn(c.file, [...c.argv, '--version'], { env: envFor(c.cache), stdio: 'ignore' });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`${v} --version exited ${code}`);
  return performance.now() - t0;
}

async function timeStart(v: Variant): Promise<{ listenMs: number; readyMs: number; stopMs: number }> {
  const c = command(v);
  const data = join(work, `data-${seq++}`);
  const t0 = performance.now();
  const child = spawn(c.file, [...c.argv, '--net.port=0', '--net.host=127.0.0.1', '--log.pretty=never', `--server.dataDir=${data}`], {
    env: envFor(c.cache),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = once(child, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      const m = /"listen":"[^"]*:(\d+)"/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(([code]) => reject(new Error(`${v} exited ${code} before listening: ${stderr}`)));
  });
  const listenMs = performance.now() - t0;
  for (;;) {
    const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    if (r?.status === 200) break;
    await r?.arrayBuffer();
    if (performance.now() - t0 > 30_000) throw new Error(`${v}: /readyz not 200 within 30 s`);
    await new Promise((res) => setTimeout(res, 2));
  }
  const readyMs = performance.now() - t0;
  const t1 = performance.now();
  child.kill('SIGTERM');
  const [code] = await exited;
  if (code !== 0) throw new Error(`${v} exited ${code} on SIGTERM: ${stderr}`);
  rmSync(data, { recursive: true, force: true });
  return { listenMs, readyMs, stopMs: performance.now() - t1 };
}

const VARIANTS: readonly Variant[] = ['node', 'binary-cold', 'binary-warm'];
// Fills the warm cache and warms the page cache for all three.
await timeVersion('binary-warm');
for (const v of VARIANTS) await timeStart(v);

const version: Record<Variant, number[]> = { node: [], 'binary-cold': [], 'binary-warm': [] };
const starts: Record<Variant, Array<{ listenMs: number; readyMs: number; stopMs: number }>> = { node: [], 'binary-cold': [], 'binary-warm': [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const v of VARIANTS) version[v].push(await timeVersion(v));
  for (const v of VARIANTS) starts[v].push(await timeStart(v));
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
const nodeReady = median(starts.node.map((s) => s.readyMs));
const nodeVersion = median(version.node);
for (const v of VARIANTS) {
  const ready = median(starts[v].map((s) => s.readyMs));
  report({
    name: `startup ${v}`,
    opsPerSec: round1(1000 / ready),
    readyMsMedian: round1(ready),
    readyMsMin: round1(Math.min(...starts[v].map((s) => s.readyMs))),
    readyMsMax: round1(Math.max(...starts[v].map((s) => s.readyMs))),
    listenMsMedian: round1(median(starts[v].map((s) => s.listenMs))),
    stopMsMedian: round1(median(starts[v].map((s) => s.stopMs))),
    readyVsNode: round2(ready / nodeReady),
    rounds: ROUNDS,
  });
}
for (const v of VARIANTS) {
  const m = median(version[v]);
  report({ name: `--version ${v}`, opsPerSec: round1(1000 / m), msMedian: round1(m), vsNode: round2(m / nodeVersion), rounds: ROUNDS });
}
