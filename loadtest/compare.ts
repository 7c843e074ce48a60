// `npm run bench:compare [-- --json] [--clients 500] [--duration 20] [--servers ours,uws-bare,colyseus-ws,colyseus-uws] [--bots lean,sdk] [--gateway-threads 1,2]`
//
// Runs the steady scenario against our server and each peer, one after the
// other in the same run (same machine, same load, same bot behaviour and
// message sizes), and prints one JSON line per server:
//   { server, msgsPerServerCpuSecond, rttP99Ms, rssPerClientKb, ... }
// then one line of ratios: { vsUwsBare, vsColyseus, vsColyseusUws }.
// --gateway-threads 1,2 runs ours once per count (net.gatewayThreads), as
// servers ours-1gt, ours-2gt, with ratios for each.
// The bare uWebSockets.js peer sends frames of the mean size our server sent
// (measured first); Colyseus runs the same game loop (peers/sim.ts).
// --bots: the bot engine(s), each server run once per engine listed (default
// lean): 'lean' drives ours with loadtest/lean/ on our protocol and the bare
// uWS peer with the same engine on the peers' wire format (peers/wire.ts);
// 'sdk' drives ours with the client SDK and the bare peer with `ws`; Colyseus
// gets the lean engine speaking its protocol (lean/colyseus-bot.ts) or its SDK.
// Each line carries botKind and botUsPerMessage (bot thread CPU per message).
// Targets (reported, not asserted): ours >= 0.5x bare uWS and >= 5x Colyseus
// in messages per server CPU-second; server RSS at 10,000 clients under 1 GB.

import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runLoadtest, type LoadtestResult } from './runner.js';
import { round } from './server/probe.js';
import type { BotKind } from './swarm/protocol.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    clients: { type: 'string', default: '500' },
    duration: { type: 'string', default: '20' },
    ramp: { type: 'string', default: '250' },
    workers: { type: 'string', default: '2' },
    servers: { type: 'string', default: 'ours,uws-bare,colyseus-ws,colyseus-uws' },
    bots: { type: 'string', default: 'lean' },
    'server-config': { type: 'string', multiple: true },
    'gateway-threads': { type: 'string', default: '1' },
  },
});

const clients = Number(values.clients);
const durationSec = Number(values.duration);
const peerDir = (f: string) => fileURLToPath(new URL(`./peers/${f}`, import.meta.url));
const log = (l: string) => process.stderr.write(`${l}\n`);

interface Line {
  server: string;
  msgsPerServerCpuSecond: number | null;
  rttP99Ms: number | null;
  rssPerClientKb: number | null;
  [k: string]: unknown;
}

function line(server: string, r: LoadtestResult): Line {
  const rss = r.serverRssStartMb !== null && r.serverRssEndMb !== null ? round(((r.serverRssEndMb - r.serverRssStartMb) * 1024) / r.clients, 1) : null;
  return {
    server,
    msgsPerServerCpuSecond: r.msgsPerServerCpuSecond,
    rttP99Ms: r.rttP99Ms,
    rssPerClientKb: rss,
    rttP50Ms: r.rttP50Ms,
    msgsInPerSec: r.msgsInPerSec,
    msgsOutPerSec: r.msgsOutPerSec,
    serverCpuSeconds: r.serverCpuSeconds,
    serverCores: r.serverCores,
    meanFrameBytesIn: r.meanFrameBytesIn,
    serverRssEndMb: r.serverRssEndMb,
    botKind: r.botKind,
    botUsPerMessage: r.botUsPerMessage,
    botUserUsPerMessage: r.botUserUsPerMessage,
    botSystemUsPerMessage: r.botSystemUsPerMessage,
    fullBots: r.fullBots,
    fullBotUsPerMessage: r.fullBotUsPerMessage,
    clients: r.clients,
    connected: r.connected,
    errors: r.errors,
    windowSec: r.windowSec,
    serverThreads: r.serverThreads,
  };
}

type Engine = 'lean' | 'sdk';

async function run(server: string, engine: Engine, frameBytes: number): Promise<Line> {
  const common = { scenario: 'steady', clients, durationSec, spawnServer: true, rampPerSec: Number(values.ramp), workers: Number(values.workers), progressMs: values.json ? 0 : 5000, log };
  let peer: { bots: BotKind; peerScript: string; peerArgs: string[] } | null = null;
  if (server === 'uws-bare') peer = { bots: engine === 'lean' ? 'lean-raw' : 'raw', peerScript: peerDir('uws-bare.js'), peerArgs: ['--frame-bytes', String(frameBytes)] };
  else if (server === 'colyseus-ws') peer = { bots: engine === 'lean' ? 'lean-colyseus' : 'colyseus', peerScript: peerDir('colyseus-server.js'), peerArgs: ['--transport', 'ws'] };
  else if (server === 'colyseus-uws') peer = { bots: engine === 'lean' ? 'lean-colyseus' : 'colyseus', peerScript: peerDir('colyseus-server.js'), peerArgs: ['--transport', 'uws'] };
  else if (!/^ours(-\d+gt)?$/.test(server)) throw new Error(`unknown server ${server}`);
  const serverConfig: Record<string, unknown> = {};
  const gt = /^ours-(\d+)gt$/.exec(server);
  if (gt) serverConfig['net.gatewayThreads'] = Number(gt[1]);
  for (const kv of values['server-config'] ?? []) {
    const i = kv.indexOf('=');
    serverConfig[kv.slice(0, i)] = kv.slice(i + 1);
  }
  log(`bench:compare: ${server}, ${clients} clients, ${durationSec} s, ${peer?.bots ?? engine} bots`);
  const r = await runLoadtest(peer ? { ...common, ...peer } : { ...common, bots: engine, serverConfig });
  if (!r.pass) log(`bench:compare: ${server} did not pass steady: ${r.failures.join('; ')}`);
  return line(server, r);
}

const gatewayThreads = values['gateway-threads'].split(',').map((n) => Number(n.trim()));
const oursNames = gatewayThreads.length === 1 && gatewayThreads[0] === 1 ? ['ours'] : gatewayThreads.map((n) => `ours-${n}gt`);
const servers = values.servers.split(',').flatMap((s) => (s.trim() === 'ours' ? oursNames : [s.trim()]));
const engines = values.bots.split(',').map((s) => s.trim());
for (const e of engines) {
  if (e !== 'lean' && e !== 'sdk') {
    process.stderr.write(`bench:compare: --bots takes lean and/or sdk, got "${e}"\n`);
    process.exit(2);
  }
}
const lines: Line[] = [];
let frameBytes = 400;
for (const engine of engines as Engine[]) {
  for (const s of servers) {
    const l = await run(s, engine, frameBytes);
    if (s === oursNames[0] && typeof l.meanFrameBytesIn === 'number' && l.meanFrameBytesIn > 0) frameBytes = l.meanFrameBytesIn;
    lines.push(l);
    process.stdout.write(values.json ? `${JSON.stringify(l)}\n` : `${l.server.padEnd(14)} ${JSON.stringify(l)}\n`);
  }
}
// Ratios from the first engine's runs.
const lean = (k: unknown) => typeof k === 'string' && k.startsWith('lean');
const by = (n: string) => lines.find((l) => l.server === n && lean(l.botKind) === (engines[0] === 'lean'))?.msgsPerServerCpuSecond ?? null;
const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? round(a / b, 3) : null);
for (const name of oursNames) {
  const ours = by(name);
  const ratios = {
    ratios: `msgsPerServerCpuSecond of ${name} divided by each peer`,
    server: name,
    vsUwsBare: ratio(ours, by('uws-bare')),
    vsColyseus: ratio(ours, by('colyseus-ws')),
    vsColyseusUws: ratio(ours, by('colyseus-uws')),
    targets: { vsUwsBare: '>= 0.7', vsColyseus: '>= 5' },
    clients,
    durationSec,
    bots: engines[0],
    frameBytesForBareUws: frameBytes,
  };
  process.stdout.write(`${JSON.stringify(ratios)}\n`);
}
