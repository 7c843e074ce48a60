// The attack matrix: each attack alone, then all combined, with adaptive
// degradation off and on; one `--scenario attack --spawn-server` run per case
// (a fresh server each), one JSON line per case on stdout.
//
//   node dist/loadtest/attack/matrix.js [--clients 300] [--duration 20]
//        [--attacks a,b|all] [--no-combined] [--degrade off,on]
//        [--intensity 1] [--server-config K=V ...] [--full]
//
// Bounded: cases x (ramp + duration + recovery) seconds; every run stops by
// itself (the runner's own deadlines). The machine load average before each
// case is in its line (`load1`), so figures taken under load say so.

import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ALL_ATTACKS, parseAttackList } from './index.js';

interface Case {
  attacks: string[];
  degrade: boolean;
}

/** The few fields of the runner's line a table needs (the whole line with --full). */
function summarise(c: Case, r: Record<string, unknown> | null, exit: number | null, wallSec: number, load1: number): Record<string, unknown> {
  const base = { case: c.attacks.length === ALL_ATTACKS.length ? 'combined' : c.attacks.join('+'), degrade: c.degrade, exit, wallSec, load1 };
  if (r === null) return { ...base, error: 'no JSON line from the runner' };
  const rb = r.rttBefore as { p99: number | null } | undefined;
  const rd = r.rttDuring as { p50: number | null; p99: number | null } | undefined;
  const failures = r.failures as string[] | undefined;
  return {
    ...base,
    pass: r.pass,
    clients: r.clients,
    rttBeforeP99: rb?.p99 ?? null,
    rttDuringP50: rd?.p50 ?? null,
    rttDuringP99: rd?.p99 ?? null,
    recoveredAfterSec: r.rttRecoveredAfterSec,
    unexpected: r.unexpectedDuring,
    movesRefused: r.movesRefusedDuring,
    loopP99Ms: r.serverEventLoopP99DuringMs,
    cores: r.serverCoresDuring,
    rssGrowthMb: r.rssGrowthMb,
    degradeLevelMax: r.degradeLevelMax,
    attackerSockets: Object.values((r.attackers as Record<string, { sockets: number }>) ?? {}).reduce((n, a) => n + a.sockets, 0),
    leftOpen: r.attackerSocketsLeftOpen,
    botCores: r.botCpuCores,
    serverThreadCores: Object.fromEntries(((r.serverThreads as Array<{ name: string; cores: number }> | null) ?? []).map((t) => [t.name, t.cores])),
    failures: failures && failures.length ? failures : undefined,
  };
}

function runCase(runJs: string, c: Case, o: { clients: number; duration: number; intensity: number; serverConfig: string[] }): Promise<{ line: Record<string, unknown> | null; exit: number | null }> {
  const args = [runJs, '--scenario', 'attack', '--attacks', c.attacks.join(','), '--clients', String(o.clients), '--duration', String(o.duration), '--spawn-server', '--json', '--progress', '0', '--attack-intensity', String(o.intensity)];
  if (!c.degrade) args.push('--no-degrade');
  for (const kv of o.serverConfig) args.push('--server-config', kv);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('close', (code) => {
      const last = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      let line: Record<string, unknown> | null = null;
      try {
        line = last ? (JSON.parse(last) as Record<string, unknown>) : null;
      } catch {
        line = null;
      }
      resolve({ line, exit: code });
    });
  });
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      clients: { type: 'string', default: '300' },
      duration: { type: 'string', default: '20' },
      attacks: { type: 'string', default: 'all' },
      'no-combined': { type: 'boolean' },
      'no-alone': { type: 'boolean' },
      degrade: { type: 'string', default: 'off,on' },
      intensity: { type: 'string', default: '1' },
      'server-config': { type: 'string', multiple: true },
      full: { type: 'boolean' },
    },
  });
  const clients = Number(v.clients);
  const duration = Number(v.duration);
  const intensity = Number(v.intensity);
  if (!(clients >= 1 && clients <= 2000) || !(duration >= 5 && duration <= 120) || !(intensity > 0 && intensity <= 4)) {
    process.stderr.write('matrix: --clients 1..2000, --duration 5..120, --intensity (0, 4]\n');
    process.exit(2);
  }
  const degrades = v.degrade!.split(',').map((s) => {
    if (s !== 'on' && s !== 'off') {
      process.stderr.write(`matrix: --degrade takes on, off or both ("off,on"), got "${s}"\n`);
      process.exit(2);
    }
    return s === 'on';
  });
  const alone = parseAttackList(v.attacks!);
  const cases: Case[] = [];
  for (const degrade of degrades) {
    if (!v['no-alone']) for (const a of alone) cases.push({ attacks: [a], degrade });
    if (!v['no-combined']) cases.push({ attacks: [...ALL_ATTACKS], degrade });
  }
  const runJs = fileURLToPath(new URL('../run.js', import.meta.url));
  let failed = 0;
  for (const c of cases) {
    const load1 = Math.round(loadavg()[0]! * 100) / 100;
    const t0 = performance.now();
    const { line, exit } = await runCase(runJs, c, { clients, duration, intensity, serverConfig: v['server-config'] ?? [] });
    const wallSec = Math.round((performance.now() - t0) / 100) / 10;
    if (exit !== 0) failed++;
    const s = summarise(c, line, exit, wallSec, load1);
    process.stdout.write(JSON.stringify(v.full ? { ...s, result: line } : s) + '\n');
  }
  process.exitCode = failed === 0 ? 0 : 1;
}

void main();
