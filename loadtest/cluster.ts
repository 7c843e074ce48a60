// The cluster scenario: `npm run loadtest -- --scenario cluster --nodes 3
// --clients 60 --duration 30 --spawn-cluster --json`. Starts nats-server, a
// throwaway PostgreSQL (test/helpers/pg-cluster.ts) and N server processes
// on this machine; the zones are placed round-robin (zone z on node
// (z-1) % N), so with N >= 2 every portal leads to another node. Bots (the
// SDK client, spread over the gateways) walk east along the middle row
// through portal after portal, saying a numbered line every half second.
//
// Reports, as one JSON line: crossings (and how many crossed nodes), handoff
// time p50/p99 (from the first move sent inside the portal to the client's
// ZoneChanged), lost and doubled inputs (each bot hears its own numbered
// says exactly once, in order), unexpected disconnects, NATS messages per
// second per node, and client messages per server CPU-second (frames
// received plus inputs sent, over the servers' utime+stime from /proc).
// `--nodes 1` runs one plain process (no NATS) on the same database: the
// baseline for the scaling ratio; `--nodes 1,2,3` runs each count with the
// same bots and zones and ends with one `cluster-scaling` line (ratio of
// messages per server CPU-second to the first count). Bounded: at most 4 nodes, 2,000 clients,
// 600 s; everything it started is stopped at the end or on exit.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnServer, type SpawnedServer } from './server/spawn.js';
import { startPgCluster, freePort, type PgCluster } from '../test/helpers/pg-cluster.js';
import { loadavg } from 'node:os';
import { readdirSync } from 'node:fs';
import { ClusterBooks, ClusterBot, LeanClusterBot, SdkClusterBot } from './cluster-bot.js';

export interface ClusterLoadOptions {
  nodes: number;
  clients: number;
  durationSec: number;
  zones: number;
  zoneSize: number;
  /** How many of the bots are full SDK bots (the rest are lean); default all of them. */
  fullBots?: number;
  /** A move per bot every stepMs (at STEP_SPEED units a second); default 50. */
  stepMs?: number;
  /** A numbered Say line per bot every sayMs; default 500. */
  sayMs?: number;
  /** Extra server config keys for every node (dotted paths). */
  serverConfig?: Record<string, unknown>;
  log: (line: string) => void;
}

/** CPU of one server process over the window, by thread (names from /proc/<pid>/task/<tid>/comm), in cores. */
export interface ThreadCpu {
  total: number;
  threads: Record<string, number>;
}

export interface ClusterLoadResult {
  scenario: 'cluster';
  nodes: number;
  clients: number;
  zones: number;
  durationSec: number;
  crossings: number;
  crossNodeCrossings: number;
  handoffMs: { p50: number; p99: number; max: number; n: number };
  lostInputs: number;
  /** Of lostInputs, lines a later line overtook (certainly lost); the rest were still unheard when the settle ended. */
  lostInGaps: number;
  /** The first few bots with lost lines: where they were and how (gaps, or unheard at the end). */
  lostBy: Array<{ bot: number; node: number; zone: number; gaps: number; unheardAtEnd: number; connected: boolean }>;
  /** nats-server's slow-consumer count at the end (it drops messages to a client that does not keep up); null without NATS. */
  natsSlowConsumers: number | null;
  /** What the nodes' record streams repaired (src/cluster/stream.ts), summed over the nodes at the end: batches NATS lost show here as gaps and resends, not as lost lines. Null for one node. */
  link: { gaps: number; resent: number; duplicates: number; resets: number; overflows: number } | null;
  doubledInputs: number;
  unackedInputs: number;
  unexpectedDisconnects: number;
  /** Frames whose seq was not the previous + 1 (lean bots: a frame the server skipped). */
  frameSeqFaults: number;
  sdkBots: number;
  leanBots: number;
  natsMsgsPerSecPerNode: Array<{ node: string; in: number; out: number }>;
  serverCpuSec: number[];
  /** Cores each server process used over the window, by thread group. */
  serverCores: ThreadCpu[];
  natsServerCores: number;
  /** Cores this process (the bots and the driver) used. */
  botCores: number;
  loadAverage: { start: number; end: number };
  /** The first few bots that lost their connection, and why. */
  dropped: Array<{ bot: number; node: number; why: string | undefined }>;
  clientMessages: number;
  messagesPerServerCpuSec: number;
  pass: boolean;
  failures: string[];
}

/** Above this many clients the scenario uses lean bots by default. */
export const LEAN_CLUSTER_ABOVE = 200;
const TICKS_PER_SEC = 100; // Linux USER_HZ for /proc/<pid>/stat
/** Walking speed of the bots, units a second (under world.movement.maxSpeed 64). */
const STEP_SPEED = 50;

/** utime+stime ticks of each thread of a process, by tid, with its name. */
function threadTicks(pid: number): Map<number, { name: string; ticks: number }> {
  const out = new Map<number, { name: string; ticks: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(Number(t), { name, ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** Cores per thread name over `sec` seconds (threads of the same name summed; threads that ended are missing). */
function threadCpu(a: Map<number, { name: string; ticks: number }>, b: Map<number, { name: string; ticks: number }>, sec: number): ThreadCpu {
  const threads: Record<string, number> = {};
  let total = 0;
  for (const [tid, t] of b) {
    const d = (t.ticks - (a.get(tid)?.ticks ?? 0)) / TICKS_PER_SEC / sec;
    total += d;
    if (d < 0.005) continue;
    threads[t.name] = round2((threads[t.name] ?? 0) + d);
  }
  return { total: round2(total), threads };
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

function cpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SEC;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const line of text.split('\n')) if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  return 0;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runClusterLoad(opts: ClusterLoadOptions): Promise<ClusterLoadResult> {
  const o = { ...opts, fullBots: opts.fullBots ?? opts.clients, stepMs: opts.stepMs ?? 50, sayMs: opts.sayMs ?? 500 };
  const failures: string[] = [];
  const clustered = o.nodes > 1;
  let nats: ChildProcess | null = null;
  let natsMonitor = 0;
  let pg: PgCluster | null = null;
  const servers: SpawnedServer[] = [];
  const bots: ClusterBot[] = [];
  try {
    let natsUrl = '';
    if (clustered) {
      const port = await freePort();
      natsUrl = `nats://127.0.0.1:${port}`;
      natsMonitor = await freePort();
      nats = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-m', String(natsMonitor)], { stdio: 'ignore' });
    }
    pg = await startPgCluster({ own: true });
    const db = await pg.createDatabase();
    const secret = randomBytes(32).toString('hex');
    const ownerOf = (zone: number) => (zone - 1) % o.nodes;
    for (let n = 0; n < o.nodes; n++) {
      const owned = Array.from({ length: o.zones }, (_, i) => i + 1).filter((z) => ownerOf(z) === n);
      const config: Record<string, unknown> = {
        'zones.count': o.zones,
        'zones.size': o.zoneSize,
        'zones.npcsPerZone': 0,
        'world.movement.maxSpeed': 64,
        'sessions.chatPerSec': 20,
        'sessions.chatBurst': 40,
        'sessions.inputsPerSec': 100,
        'sessions.inputBurst': 200,
        'persist.postgresUrl': db,
        'auth.tokenSecret': secret,
        'net.gatewayThreads': 1,
        // Few listeners per Say line: the bots check their own lines; a crowd hearing each one is chat load, not cluster load.
        'world.sayMaxListeners': 4,
        ...o.serverConfig,
      };
      if (clustered) Object.assign(config, { 'cluster.natsUrl': natsUrl, 'cluster.nodeId': `n${n + 1}`, 'cluster.ownedZones': owned, 'cluster.heartbeatMs': 250, 'cluster.nodeTimeoutMs': 3000, 'cluster.newPlayers': 'local' });
      // One after the other: the first creates the schema.
      servers.push(await spawnServer({ config, startTimeoutMs: 30_000 }));
    }
    // Every node sees every zone up.
    const deadline = Date.now() + 15_000;
    for (const s of servers) {
      for (;;) {
        const body = (await (await fetch(`${s.httpUrl}/readyz`)).json()) as { components: Record<string, string> };
        const zonesUp = Object.entries(body.components).filter(([k, v]) => k.startsWith('zone-') && v === 'up').length;
        if (zonesUp === o.zones) break;
        if (Date.now() > deadline) throw new Error(`node ${s.httpUrl} sees ${zonesUp}/${o.zones} zones up`);
        await sleep(100);
      }
    }
    o.log(`cluster: ${o.nodes} node(s), ${o.zones} zones of ${o.zoneSize}; connecting ${o.clients} bots`);

    const books = new ClusterBooks(ownerOf);
    const mid = o.zoneSize / 2;
    for (let i = 0; i < o.clients; i++) {
      const node = i % o.nodes;
      const name = `cl${i}`;
      // Lanes spread the bots over the portals' 64-unit band (every 2 units from mid-24 to mid+24).
      const lane = mid - 24 + 2 * ((i * 7) % 25);
      const localAddress = `127.0.4.${1 + (i % 250)}`;
      // The full SDK bots are spread over the run (every k-th bot), so each node has some.
      const sdk = o.fullBots >= o.clients || (o.fullBots > 0 && i % Math.floor(o.clients / o.fullBots) === 0 && i / Math.floor(o.clients / o.fullBots) < o.fullBots);
      bots.push(sdk ? new SdkClusterBot(books, i, node, lane, servers[node]!.wsUrl, name, localAddress) : new LeanClusterBot(books, i, node, lane, servers[node]!.wsUrl, name, localAddress));
      if (i % 20 === 19) await sleep(o.clients > 500 ? 20 : 50);
    }
    const joinBy = Date.now() + 60_000;
    for (;;) {
      const late = bots.filter((b) => !b.ready);
      if (late.length === 0) break;
      if (Date.now() > joinBy || bots.some((b) => b.why !== undefined)) {
        throw new Error(`only ${bots.length - late.length}/${bots.length} bots got into the world; some of the others: ${JSON.stringify(late.slice(0, 8).map((b) => ({ node: b.node, kind: b instanceof SdkClusterBot ? 'sdk' : 'lean', connected: b.connected, zone: b.zone, why: b.why })))}`);
      }
      await sleep(50);
    }
    const nSdk = bots.filter((b) => b instanceof SdkClusterBot).length;
    o.log(`cluster: all ${bots.length} bots in (${nSdk} SDK, ${bots.length - nSdk} lean); walking for ${o.durationSec} s`);
    books.crossings = 0;
    books.crossNode = 0;
    books.handoffs.length = 0;

    const cpu0 = servers.map((s) => cpuSeconds(s.pid));
    const threads0 = servers.map((s) => threadTicks(s.pid));
    const natsCpu0 = nats?.pid ? cpuSeconds(nats.pid) : 0;
    const botCpu0 = process.cpuUsage();
    const nats0 = await Promise.all(servers.map(async (s) => [await metric(s.httpUrl, 'mmo_cluster_nats_messages_in_total'), await metric(s.httpUrl, 'mmo_cluster_nats_messages_out_total')]));
    const msgs = () => bots.reduce((a, b) => a + b.messages, 0);
    const msgs0 = msgs();
    const load0 = loadavg()[0]!;
    const t0 = performance.now();
    const portalX = o.zoneSize - 8;
    const stepLen = (STEP_SPEED * o.stepMs) / 1000;
    let lastSay = 0;
    while (performance.now() - t0 < o.durationSec * 1000) {
      const now = performance.now();
      const say = now - lastSay >= o.sayMs;
      if (say) lastSay = now;
      for (const b of bots) {
        if (!b.connected) continue;
        if (Math.abs(b.y - b.lane) > 1) b.y += Math.sign(b.lane - b.y) * Math.min(stepLen, Math.abs(b.lane - b.y));
        else b.x = Math.min(o.zoneSize - 1, b.x + stepLen);
        b.move(b.x, b.y);
        if (b.x >= portalX && b.portalAt === 0 && Math.abs(b.y - mid) < 32) b.portalAt = performance.now();
        if (say) b.say(++b.said);
        b.flush(now);
      }
      const spent = performance.now() - now;
      await sleep(Math.max(1, o.stepMs - spent));
    }
    const window = (performance.now() - t0) / 1000;
    const cpu = servers.map((s, i) => cpuSeconds(s.pid) - cpu0[i]!);
    const threads = servers.map((s, i) => threadCpu(threads0[i]!, threadTicks(s.pid), window));
    const natsCpu = nats?.pid ? cpuSeconds(nats.pid) - natsCpu0 : 0;
    const botCpu = process.cpuUsage(botCpu0);
    const load1 = loadavg()[0]!;
    const nats1 = await Promise.all(servers.map(async (s) => [await metric(s.httpUrl, 'mmo_cluster_nats_messages_in_total'), await metric(s.httpUrl, 'mmo_cluster_nats_messages_out_total')]));
    const clientMessages = msgs() - msgs0;
    // Let the last says and acks arrive.
    const settle = Date.now() + 5000;
    while (Date.now() < settle && bots.some((b) => b.connected && (b.heard < b.said || b.pendingInputs > 0))) {
      for (const b of bots) b.flush(performance.now());
      await sleep(50);
    }
    let lost = 0;
    let lostGaps = 0;
    let doubled = 0;
    let unacked = 0;
    let seqFaults = 0;
    const lostBy: ClusterLoadResult['lostBy'] = [];
    for (const b of bots) {
      lost += b.lost + (b.said - b.heard);
      lostGaps += b.lost;
      if ((b.lost > 0 || b.said > b.heard) && lostBy.length < 8) lostBy.push({ bot: b.index, node: b.node, zone: b.zone, gaps: b.lost, unheardAtEnd: b.said - b.heard, connected: b.connected });
      doubled += b.doubled;
      unacked += b.pendingInputs;
      seqFaults += b.seqFaults;
    }
    const { crossings, crossNode, handoffs, unexpected } = books;
    const dropped = bots.filter((b) => b.why !== undefined).slice(0, 5).map((b) => ({ bot: b.index, node: b.node, why: b.why }));
    const sorted = [...handoffs].sort((a, b) => a - b);
    const cpuTotal = cpu.reduce((a, b) => a + b, 0);
    const result: ClusterLoadResult = {
      scenario: 'cluster',
      nodes: o.nodes,
      clients: o.clients,
      zones: o.zones,
      durationSec: Math.round(window * 10) / 10,
      crossings,
      crossNodeCrossings: crossNode,
      handoffMs: { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1] ?? 0), n: sorted.length },
      lostInputs: lost,
      lostInGaps: lostGaps,
      lostBy,
      natsSlowConsumers: natsMonitor ? await natsSlowConsumers(natsMonitor) : null,
      link: clustered ? await linkTotals(servers.map((s) => s.httpUrl)) : null,
      doubledInputs: doubled,
      unackedInputs: unacked,
      unexpectedDisconnects: unexpected,
      frameSeqFaults: seqFaults,
      sdkBots: nSdk,
      leanBots: bots.length - nSdk,
      natsMsgsPerSecPerNode: servers.map((_, i) => ({ node: clustered ? `n${i + 1}` : 'single', in: round((nats1[i]![0]! - nats0[i]![0]!) / window), out: round((nats1[i]![1]! - nats0[i]![1]!) / window) })),
      serverCpuSec: cpu.map(round),
      serverCores: threads,
      natsServerCores: round2(natsCpu / window),
      botCores: round2((botCpu.user + botCpu.system) / 1e6 / window),
      loadAverage: { start: load0, end: load1 },
      dropped,
      clientMessages,
      messagesPerServerCpuSec: round(clientMessages / Math.max(0.01, cpuTotal)),
      pass: false,
      failures,
    };
    if (crossings === 0) failures.push('no bot crossed a portal');
    if (clustered && crossNode === 0) failures.push('no crossing between nodes');
    if (lost > 0) failures.push(`${lost} inputs lost`);
    if (doubled > 0) failures.push(`${doubled} inputs doubled`);
    if (unacked > 0) failures.push(`${unacked} inputs never acknowledged`);
    if (unexpected > 0) failures.push(`${unexpected} unexpected disconnects`);
    result.pass = failures.length === 0;
    return result;
  } finally {
    for (const b of bots) b.close();
    await Promise.all(servers.map((s) => s.stop(5000)));
    nats?.kill('SIGKILL');
    await pg?.destroy();
  }
}

/** The nodes' mmo_cluster_link_* counters, summed. */
async function linkTotals(urls: string[]): Promise<NonNullable<ClusterLoadResult['link']>> {
  const t = { gaps: 0, resent: 0, duplicates: 0, resets: 0, overflows: 0 };
  for (const u of urls) {
    t.gaps += await metric(u, 'mmo_cluster_link_gaps_total');
    t.resent += await metric(u, 'mmo_cluster_link_resent_batches_total');
    t.duplicates += await metric(u, 'mmo_cluster_link_duplicates_total');
    t.resets += await metric(u, 'mmo_cluster_link_resets_total');
    t.overflows += await metric(u, 'mmo_cluster_link_overflows_total');
  }
  return t;
}

/** nats-server's /varz slow_consumers (its monitoring port); -1 when it cannot be read. */
async function natsSlowConsumers(monitorPort: number): Promise<number> {
  try {
    const r = await fetch(`http://127.0.0.1:${monitorPort}/varz`, { signal: AbortSignal.timeout(2000) });
    const v = (await r.json()) as { slow_consumers?: number };
    return v.slow_consumers ?? -1;
  } catch {
    return -1;
  }
}

const round = (v: number): number => Math.round(v * 10) / 10;

/** `run.ts --scenario cluster ...` lands here. */
export async function clusterMain(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenario: { type: 'string' },
      nodes: { type: 'string' },
      clients: { type: 'string' },
      duration: { type: 'string' },
      zones: { type: 'string' },
      'zone-size': { type: 'string' },
      bots: { type: 'string' },
      'full-bots': { type: 'string' },
      'step-ms': { type: 'string' },
      'say-ms': { type: 'string' },
      'spawn-cluster': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const int = (s: string | undefined, name: string, dflt: number, min: number, max: number): number => {
    const n = s === undefined ? dflt : Number(s);
    if (!Number.isInteger(n) || n < min || n > max) {
      process.stderr.write(`loadtest: --${name} must be an integer from ${min} to ${max}, got "${s}"\n`);
      process.exit(2);
    }
    return n;
  };
  if (!v['spawn-cluster']) {
    process.stderr.write('loadtest: the cluster scenario needs --spawn-cluster (it starts nats-server, PostgreSQL and the nodes itself)\n');
    process.exit(2);
  }
  // --nodes 1,2,3: one run per count with the same bots and zones, then the scaling line against the first.
  const counts = (v.nodes ?? '2').split(',').map((n) => int(n, 'nodes', 2, 1, 4));
  const nodes = Math.max(...counts);
  const clients = int(v.clients, 'clients', 60, 1, 2000);
  // Lean bots (with a few full SDK bots auditing) above LEAN_CLUSTER_ABOVE clients: 1,500 SDK bots alone would need more than this machine's 2 cores.
  const kind = v.bots ?? (clients > LEAN_CLUSTER_ABOVE ? 'lean' : 'sdk');
  if (kind !== 'lean' && kind !== 'sdk') {
    process.stderr.write(`loadtest: --bots must be lean or sdk, got "${kind}"\n`);
    process.exit(2);
  }
  const big = clients > LEAN_CLUSTER_ABOVE;
  const opts: ClusterLoadOptions = {
    nodes,
    clients,
    durationSec: int(v.duration, 'duration', 30, 1, 600),
    // Some 125 bots a zone in big runs (a multiple of every node count up to 4: 12 zones).
    zones: int(v.zones, 'zones', big ? Math.max(12, 2 * nodes) : Math.max(2, 2 * nodes), 2, 64),
    zoneSize: int(v['zone-size'], 'zone-size', big ? 256 : 128, 64, 4096),
    fullBots: kind === 'sdk' ? clients : int(v['full-bots'], 'full-bots', Math.min(30, Math.ceil(clients / 50)), 0, clients),
    stepMs: int(v['step-ms'], 'step-ms', big ? 100 : 50, 20, 1000),
    sayMs: int(v['say-ms'], 'say-ms', 500, 100, 10_000),
    log: (l) => process.stderr.write(`${l}\n`),
  };
  const results: ClusterLoadResult[] = [];
  for (const n of counts) {
    let result: ClusterLoadResult;
    try {
      result = await runClusterLoad({ ...opts, nodes: n });
    } catch (e) {
      process.stderr.write(`loadtest: the run failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(3);
    }
    if (!v.json && !result.pass) process.stderr.write(`FAIL (${n} nodes): ${result.failures.join('; ')}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    results.push(result);
  }
  if (results.length > 1) {
    const base = results[0]!;
    const ratios = results.slice(1).map((r) => ({ nodes: r.nodes, messagesPerServerCpuSec: r.messagesPerServerCpuSec, ratio: Math.round((r.messagesPerServerCpuSec / base.messagesPerServerCpuSec) * 100) / 100 }));
    process.stdout.write(`${JSON.stringify({ scenario: 'cluster-scaling', baseline: { nodes: base.nodes, messagesPerServerCpuSec: base.messagesPerServerCpuSec }, ratios, target: 0.8, met: ratios.every((r) => r.ratio >= 0.8) })}\n`);
  }
  process.exit(results.every((r) => r.pass) ? 0 : 1);
}
