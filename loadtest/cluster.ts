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
import { connect, ChatChannel, type MmoClient } from '../src/client/index.js';

export interface ClusterLoadOptions {
  nodes: number;
  clients: number;
  durationSec: number;
  zones: number;
  zoneSize: number;
  log: (line: string) => void;
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
  doubledInputs: number;
  unackedInputs: number;
  unexpectedDisconnects: number;
  natsMsgsPerSecPerNode: Array<{ node: string; in: number; out: number }>;
  serverCpuSec: number[];
  clientMessages: number;
  messagesPerServerCpuSec: number;
  pass: boolean;
  failures: string[];
}

const TICKS_PER_SEC = 100; // Linux USER_HZ for /proc/<pid>/stat
const STEP = 2.5;
const STEP_MS = 50;
const SAY_MS = 500;

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

interface Bot {
  c: MmoClient;
  name: string;
  node: number;
  said: number;
  heard: number;
  lost: number;
  doubled: number;
  portalAt: number;
  x: number;
  y: number;
  why?: string;
}

export async function runClusterLoad(o: ClusterLoadOptions): Promise<ClusterLoadResult> {
  const failures: string[] = [];
  const clustered = o.nodes > 1;
  let nats: ChildProcess | null = null;
  let pg: PgCluster | null = null;
  const servers: SpawnedServer[] = [];
  const bots: Bot[] = [];
  try {
    let natsUrl = '';
    if (clustered) {
      const port = await freePort();
      natsUrl = `nats://127.0.0.1:${port}`;
      nats = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
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
      };
      if (clustered) Object.assign(config, { 'cluster.natsUrl': natsUrl, 'cluster.nodeId': `n${n + 1}`, 'cluster.ownedZones': owned, 'cluster.heartbeatMs': 250, 'cluster.nodeTimeoutMs': 3000 });
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

    let unexpected = 0;
    const handoffs: number[] = [];
    let crossings = 0;
    let crossNode = 0;
    const prevZone = new Map<Bot, number>();
    const snapped = new Set<Bot>();
    for (let i = 0; i < o.clients; i++) {
      const node = i % o.nodes;
      const name = `cl${i}`;
      const c = connect(servers[node]!.wsUrl, { guestName: name, localAddress: `127.0.4.${1 + (i % 250)}` });
      const b: Bot = { c, name: `guest_${name}`, node, said: 0, heard: 0, lost: 0, doubled: 0, portalAt: 0, x: 0, y: 0 };
      bots.push(b);
      void c.once('snapshot').then(() => snapped.add(b));
      c.on('chat', (m) => {
        if (m.channel !== ChatChannel.Say || m.fromName !== b.name) return;
        const n = Number(m.text);
        if (n <= b.heard) b.doubled++;
        else {
          b.lost += n - b.heard - 1;
          b.heard = n;
        }
      });
      c.on('zone', (z) => {
        crossings++;
        if (ownerOf(z.zone) !== ownerOf(prevZone.get(b) ?? z.zone)) crossNode++;
        prevZone.set(b, z.zone);
        if (b.portalAt > 0) handoffs.push(performance.now() - b.portalAt);
        b.portalAt = 0;
        b.x = z.x;
        b.y = z.y;
      });
      c.on('reconnecting', (r) => {
        unexpected++;
        b.why = `reconnecting ${r.code} ${r.reason}`;
      });
      c.on('close', (r) => {
        unexpected++;
        b.why = `closed ${r.code} ${r.reason}`;
      });
      c.on('kicked', (k) => (b.why = `kicked ${k.code} ${k.reason}`));
      c.on('moveRejected', (r) => {
        b.x = r.x;
        b.y = r.y;
      });
      if (i % 20 === 19) await sleep(50);
    }
    const joinBy = Date.now() + 30_000;
    while (snapped.size < bots.length) {
      if (Date.now() > joinBy) {
        const late = bots.filter((b) => !snapped.has(b));
        throw new Error(`only ${snapped.size}/${bots.length} bots got into the world within 30 s; the others: ${JSON.stringify(late.slice(0, 8).map((b) => ({ node: b.node, connected: b.c.connected, zone: b.c.zone, session: b.c.sessionId, why: b.why })))}`);
      }
      await sleep(50);
    }
    o.log(`cluster: all ${bots.length} bots in; walking for ${o.durationSec} s`);
    for (const b of bots) {
      prevZone.set(b, b.c.zone);
      b.x = b.c.self!.x;
      b.y = b.c.self!.y;
    }

    const cpu0 = servers.map((s) => cpuSeconds(s.pid));
    const nats0 = await Promise.all(servers.map(async (s) => [await metric(s.httpUrl, 'mmo_cluster_nats_messages_in_total'), await metric(s.httpUrl, 'mmo_cluster_nats_messages_out_total')]));
    const msgs = () => bots.reduce((a, b) => a + b.c.stats.framesReceived + b.c.stats.inputsSent, 0);
    const msgs0 = msgs();
    const t0 = performance.now();
    const mid = o.zoneSize / 2;
    const portalX = o.zoneSize - 8;
    let lastSay = 0;
    while (performance.now() - t0 < o.durationSec * 1000) {
      const now = performance.now();
      const say = now - lastSay >= SAY_MS;
      if (say) lastSay = now;
      for (const b of bots) {
        if (!b.c.connected) continue;
        if (Math.abs(b.y - mid) > 1) b.y += Math.sign(mid - b.y) * Math.min(STEP, Math.abs(mid - b.y));
        else b.x = Math.min(o.zoneSize - 1, b.x + STEP);
        b.c.move(b.x, b.y);
        if (b.x >= portalX && b.portalAt === 0 && Math.abs(b.y - mid) < 32) b.portalAt = performance.now();
        if (say) b.c.chat(ChatChannel.Say, String(++b.said));
      }
      await sleep(STEP_MS);
    }
    const window = (performance.now() - t0) / 1000;
    const cpu = servers.map((s, i) => cpuSeconds(s.pid) - cpu0[i]!);
    const nats1 = await Promise.all(servers.map(async (s) => [await metric(s.httpUrl, 'mmo_cluster_nats_messages_in_total'), await metric(s.httpUrl, 'mmo_cluster_nats_messages_out_total')]));
    const clientMessages = msgs() - msgs0;
    // Let the last says and acks arrive.
    const settle = Date.now() + 5000;
    while (Date.now() < settle && bots.some((b) => b.c.connected && (b.heard < b.said || b.c.pendingInputs > 0))) await sleep(50);
    let lost = 0;
    let doubled = 0;
    let unacked = 0;
    for (const b of bots) {
      lost += b.lost + (b.said - b.heard);
      doubled += b.doubled;
      unacked += b.c.pendingInputs;
    }
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
      doubledInputs: doubled,
      unackedInputs: unacked,
      unexpectedDisconnects: unexpected,
      natsMsgsPerSecPerNode: servers.map((_, i) => ({ node: clustered ? `n${i + 1}` : 'single', in: round((nats1[i]![0]! - nats0[i]![0]!) / window), out: round((nats1[i]![1]! - nats0[i]![1]!) / window) })),
      serverCpuSec: cpu.map(round),
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
    for (const b of bots) b.c.close();
    await Promise.all(servers.map((s) => s.stop(5000)));
    nats?.kill('SIGKILL');
    await pg?.destroy();
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
  const opts: ClusterLoadOptions = {
    nodes,
    clients: int(v.clients, 'clients', 60, 1, 2000),
    durationSec: int(v.duration, 'duration', 30, 1, 600),
    zones: int(v.zones, 'zones', Math.max(2, 2 * nodes), 2, 64),
    zoneSize: int(v['zone-size'], 'zone-size', 128, 64, 4096),
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
