// `npm run loadtest -- --scenario NAME --clients N --duration SECONDS
//    [--url URL | --spawn-server] [--ramp PER_SEC] [--json] [more: --help]`
//
// Prints a progress line every few seconds on stderr and, at the end, one
// JSON line on stdout. Exit code: 0 the scenario passed, 1 its pass criteria
// failed, 2 bad arguments, 3 the run itself failed (server would not start...).

import { parseArgs } from 'node:util';
import { runLoadtest, DEFAULT_OPTIONS, type LoadtestOptions } from './runner.js';
import { scenarios } from './scenarios/index.js';
import type { BotBehaviour } from './swarm/bot.js';
import { parseAttackList } from './attack/index.js';

const USAGE = `npm run loadtest -- --scenario NAME --clients N --duration SECONDS [options]

Scenarios:
${[...scenarios.values()].map((s) => `  ${s.name.padEnd(16)} ${s.description}`).join('\n')}

Server:
  --url URL               ws://host:port/ws of a running server (default ws://127.0.0.1:7777/ws)
  --spawn-server          start dist/src/main.js with a temporary config and data dir on 127.0.0.1
  --server-pid PID        read CPU/RSS/threads of this local server process from /proc
  --server-config K=V     a key for the spawned server's YAML config (repeatable), e.g. net.idleTimeout=30
  --server-arg ARG        an extra argument for the spawned server (repeatable), e.g. --server-arg=--log.level=warn

Swarm:
  --bots lean|sdk         the bot engine: lean (loadtest/lean/: raw sockets, a FlatBuffers peek, a few us per message)
                          or sdk (the client SDK with its world model, ~31 us per message); default lean above 2,000 clients (attack: above 500)
  --full-bots N           with lean bots: N of the clients run the full SDK and audit their world model
                          (default min(50, 1 % of clients))
  --ramp PER_SEC          new connections per second while ramping up (default ${DEFAULT_OPTIONS.rampPerSec})
  --workers N             bot worker threads (default ${DEFAULT_OPTIONS.workers})
  --probe-bots N          bots on an extra lightly loaded thread whose RTT is reported (default ${DEFAULT_OPTIONS.probeBots}; 0: all bots')
  --addresses N           loopback source addresses 127.0.1.1... to spread bots over (default ${DEFAULT_OPTIONS.addresses}; 0: OS picks)
  --via-proxy             route bots through the netfault proxy
  --seed N                seed of the bots' choices (default 1)
  --move-ms, --ping-ms, --chat-ms, --attack-ms, --speed, --zone-size   bot behaviour
  --no-seq-check          do not read frame sequence numbers

Scenario knobs:
  --drop-via client|proxy reconnect-storm: bots kill their sockets, or the proxy resets every link
  --storm-deadline S      reconnect-storm: everyone back within S seconds (default 10)
  --turnover PCT          soak: percent of players replaced per minute (default 5)
  --churn N               churn: connections cycled per second (default 2 % of clients)
  --max-rtt-p99 MS, --max-rss-growth PCT, --max-heap-slope MB_PER_MIN   pass criteria
  --attacks A,B|all       attack: which attacks run together (default all: conn-flood, slowloris, handshake-flood,
                          garbage, msg-flood, slow-readers, oversize, auth-bruteforce, resume-forgery)
  --attack-intensity X    attack: scale of every attack's rate and socket caps (default 1)
  --no-degrade            attack: spawn the server with degrade.enabled=false (adaptive degradation off)
  --max-attack-rtt-p99 MS, --recover-within S, --max-rss-growth-mb MB   attack pass criteria (250, 10, 200)

Output:
  --json                  stdout carries only the final JSON line
  --progress S            progress line period (default 5; 0: none)
  --sample S              server sampling period for heap/RSS (default 2)
`;

function fail(msg: string): never {
  process.stderr.write(`loadtest: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function num(v: string | undefined, name: string, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got "${v}"`);
  return n;
}

function parseValue(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v;
}

export function parseCli(argv: string[]): { opts: Partial<LoadtestOptions>; json: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        scenario: { type: 'string' },
        clients: { type: 'string' },
        duration: { type: 'string' },
        url: { type: 'string' },
        'spawn-server': { type: 'boolean' },
        'server-pid': { type: 'string' },
        'server-config': { type: 'string', multiple: true },
        'server-arg': { type: 'string', multiple: true },
        ramp: { type: 'string' },
        workers: { type: 'string' },
        bots: { type: 'string' },
        'full-bots': { type: 'string' },
        'probe-bots': { type: 'string' },
        addresses: { type: 'string' },
        'via-proxy': { type: 'boolean' },
        seed: { type: 'string' },
        'move-ms': { type: 'string' },
        'ping-ms': { type: 'string' },
        'chat-ms': { type: 'string' },
        'attack-ms': { type: 'string' },
        speed: { type: 'string' },
        'zone-size': { type: 'string' },
        'no-seq-check': { type: 'boolean' },
        'drop-via': { type: 'string' },
        'storm-deadline': { type: 'string' },
        turnover: { type: 'string' },
        churn: { type: 'string' },
        'max-rtt-p99': { type: 'string' },
        'max-rss-growth': { type: 'string' },
        'max-heap-slope': { type: 'string' },
        attacks: { type: 'string' },
        'attack-intensity': { type: 'string' },
        'no-degrade': { type: 'boolean' },
        'max-attack-rtt-p99': { type: 'string' },
        'recover-within': { type: 'string' },
        'max-rss-growth-mb': { type: 'string' },
        json: { type: 'boolean' },
        progress: { type: 'string' },
        sample: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const scenario = v.scenario ?? 'steady';
  if (!scenarios.has(scenario)) fail(`unknown scenario "${scenario}"`);
  const serverConfig: Record<string, unknown> = {};
  for (const kv of v['server-config'] ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) fail(`--server-config wants KEY=VALUE, got "${kv}"`);
    serverConfig[kv.slice(0, i)] = parseValue(kv.slice(i + 1));
  }
  const behaviour: Partial<BotBehaviour> = {};
  if (v['move-ms']) behaviour.moveIntervalMs = num(v['move-ms'], 'move-ms', 250, 50);
  if (v['ping-ms']) behaviour.pingIntervalMs = num(v['ping-ms'], 'ping-ms', 2000, 10);
  if (v['chat-ms']) behaviour.chatIntervalMs = num(v['chat-ms'], 'chat-ms', 20000, 100);
  if (v['attack-ms']) behaviour.attackIntervalMs = num(v['attack-ms'], 'attack-ms', 2000, 100);
  if (v.speed) behaviour.speed = num(v.speed, 'speed', 6.4, 0.1);
  if (v['zone-size']) behaviour.zoneSize = num(v['zone-size'], 'zone-size', 1024, 128);
  if (v['no-seq-check']) behaviour.checkSeq = false;
  const dropVia = v['drop-via'] ?? 'client';
  if (dropVia !== 'client' && dropVia !== 'proxy') fail(`--drop-via is client or proxy, got "${dropVia}"`);
  const spawnServer = v['spawn-server'] ?? false;
  if (v.bots !== undefined && v.bots !== 'lean' && v.bots !== 'sdk') fail(`--bots is lean or sdk, got "${v.bots}"`);
  if (v['full-bots'] !== undefined && v.bots === 'sdk') fail('--full-bots goes with --bots lean (sdk bots are all full)');
  const opts: Partial<LoadtestOptions> = {
    scenario,
    clients: num(v.clients, 'clients', DEFAULT_OPTIONS.clients, 1),
    durationSec: num(v.duration, 'duration', DEFAULT_OPTIONS.durationSec, 1),
    spawnServer,
    rampPerSec: num(v.ramp, 'ramp', DEFAULT_OPTIONS.rampPerSec, 1),
    workers: num(v.workers, 'workers', DEFAULT_OPTIONS.workers, 1),
    ...(v.bots !== undefined ? { bots: v.bots as 'lean' | 'sdk' } : {}),
    ...(v['full-bots'] !== undefined ? { fullBots: num(v['full-bots'], 'full-bots', 0, 0) } : {}),
    probeBots: num(v['probe-bots'], 'probe-bots', DEFAULT_OPTIONS.probeBots, 0),
    addresses: num(v.addresses, 'addresses', DEFAULT_OPTIONS.addresses, 0),
    serverConfig,
    serverArgs: v['server-arg'] ?? [],
    viaProxy: v['via-proxy'] ?? false,
    dropVia,
    seed: num(v.seed, 'seed', 1),
    behaviour,
    stormDeadlineSec: num(v['storm-deadline'], 'storm-deadline', DEFAULT_OPTIONS.stormDeadlineSec, 1),
    turnoverPctPerMin: num(v.turnover, 'turnover', DEFAULT_OPTIONS.turnoverPctPerMin),
    churnPerSec: num(v.churn, 'churn', 0),
    maxRttP99Ms: num(v['max-rtt-p99'], 'max-rtt-p99', DEFAULT_OPTIONS.maxRttP99Ms),
    maxRssGrowthPct: num(v['max-rss-growth'], 'max-rss-growth', DEFAULT_OPTIONS.maxRssGrowthPct),
    maxHeapSlopeMbPerMin: num(v['max-heap-slope'], 'max-heap-slope', DEFAULT_OPTIONS.maxHeapSlopeMbPerMin),
    progressMs: num(v.progress, 'progress', DEFAULT_OPTIONS.progressMs / 1000) * 1000,
    sampleMs: num(v.sample, 'sample', DEFAULT_OPTIONS.sampleMs / 1000, 0.1) * 1000,
  };
  if (v.attacks !== undefined || scenario === 'attack') {
    try {
      opts.attacks = parseAttackList(v.attacks ?? 'all');
    } catch (e) {
      fail((e as Error).message);
    }
    opts.attackIntensity = num(v['attack-intensity'], 'attack-intensity', 1, 0.01);
    opts.maxAttackRttP99Ms = num(v['max-attack-rtt-p99'], 'max-attack-rtt-p99', 250);
    opts.recoverWithinSec = num(v['recover-within'], 'recover-within', 10);
    opts.maxRssGrowthMb = num(v['max-rss-growth-mb'], 'max-rss-growth-mb', 200);
  }
  if (v['no-degrade']) serverConfig['degrade.enabled'] = false;
  if (!spawnServer) opts.url = v.url ?? 'ws://127.0.0.1:7777/ws';
  if (v['server-pid']) opts.serverPid = num(v['server-pid'], 'server-pid', 0, 1);
  return { opts, json: v.json ?? false };
}

async function main(): Promise<void> {
  // Several server processes over NATS (issue 18): its own driver and options (loadtest/cluster.ts).
  if (process.argv.slice(2).join(' ').match(/--scenario[= ]cluster\b/)) return (await import('./cluster.js')).clusterMain(process.argv.slice(2));
  const { opts, json } = parseCli(process.argv.slice(2));
  let result;
  try {
    result = await runLoadtest(opts);
  } catch (e) {
    process.stderr.write(`loadtest: the run failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(3);
  }
  if (!json) {
    const { counters, errorCodes, serverThreads, ...rest } = result;
    process.stdout.write(`\n${Object.entries(rest).map(([k, v]) => `  ${k.padEnd(24)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n')}\n`);
    process.stdout.write(`  ${'serverThreads'.padEnd(24)} ${JSON.stringify(serverThreads)}\n  ${'errorCodes'.padEnd(24)} ${JSON.stringify(errorCodes)}\n  ${'counters'.padEnd(24)} ${JSON.stringify(counters)}\n\n`);
    if (!result.pass) process.stdout.write(`FAIL: ${result.failures.join('; ')}\n`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(result.pass ? 0 : 1);
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
