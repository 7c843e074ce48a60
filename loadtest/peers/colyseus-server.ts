// Peer: a Colyseus 0.17 server running the game loop of sim.ts in one room,
// over its default ws transport (--transport ws) or its uWebSockets.js
// transport (--transport uws). Messages are Colyseus byte messages with our
// sizes (wire.ts). Prints {"listen":"127.0.0.1:<port>"} once ready; stops on
// SIGTERM/SIGINT or after --lifetime seconds.
//
//   node dist/loadtest/peers/colyseus-server.js [--transport ws|uws] [--port 0] [--lifetime 900]

import net from 'node:net';
import { parseArgs } from 'node:util';
import { Server, Room, matchMaker, type Client } from '@colyseus/core';
import { PeerWorld, TICK_HZ } from './sim.js';
import { PeerMsg } from './wire.js';

const { values } = parseArgs({
  options: {
    transport: { type: 'string', default: 'ws' },
    port: { type: 'string', default: '0' },
    lifetime: { type: 'string', default: '900' },
  },
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const pong = new Uint8Array(16);
const pongView = new DataView(pong.buffer);
pong[0] = 2;
const hello = new Uint8Array(16);
const helloView = new DataView(hello.buffer);
hello[0] = 4;
const nearby = new Int32Array(256);

class WorldRoom extends Room {
  override maxClients = 20_000;
  override autoDispose = false;
  private readonly world = new PeerWorld();
  private readonly slotOf = new Map<string, number>();
  private readonly clientOf = new Map<number, Client>();

  override onCreate(): void {
    this.setPatchRate(null);
    this.onMessageBytes('m', (client: Client, b: Uint8Array) => {
      const s = this.slotOf.get(client.sessionId);
      if (s === undefined || b.length < 16) return;
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.world.move(s, v.getFloat32(8, true), v.getFloat32(12, true), performance.now());
    });
    this.onMessageBytes('p', (client: Client, b: Uint8Array) => {
      if (b.length < 16 || b[0] !== PeerMsg.ping) return;
      pongView.setFloat64(8, new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(8, true), true);
      client.sendBytes('o', pong);
    });
    this.onMessageBytes('a', (client: Client, b: Uint8Array) => {
      const s = this.slotOf.get(client.sessionId);
      if (s === undefined || b.length < 8) return;
      this.world.attack(s, new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4, true), performance.now());
    });
    this.onMessageBytes('c', (client: Client, b: Uint8Array) => {
      const s = this.slotOf.get(client.sessionId);
      if (s === undefined) return;
      const n = this.world.near(s, nearby);
      for (let i = 0; i < n; i++) this.clientOf.get(nearby[i]!)?.sendBytes('c', b);
    });
    this.setSimulationInterval(() => this.tick(), 1000 / TICK_HZ);
  }

  override onJoin(client: Client): void {
    const s = this.world.addPlayer(performance.now());
    this.slotOf.set(client.sessionId, s);
    this.clientOf.set(s, client);
    helloView.setFloat32(4, this.world.x[s]!, true);
    helloView.setFloat32(8, this.world.y[s]!, true);
    helloView.setUint32(12, s, true);
    client.sendBytes('h', hello);
  }

  override onLeave(client: Client): void {
    const s = this.slotOf.get(client.sessionId);
    if (s === undefined) return;
    this.slotOf.delete(client.sessionId);
    this.clientOf.delete(s);
    this.world.removePlayer(s);
  }

  private tick(): void {
    const w = this.world;
    w.step();
    for (const [s, client] of this.clientOf) {
      const n = w.visible(s);
      if (n > 0) client.sendBytes('d', w.out.subarray(0, n));
    }
    w.endTick();
  }
}

async function main(): Promise<void> {
  let transport;
  if (values.transport === 'uws') {
    const { uWebSocketsTransport } = await import('@colyseus/uwebsockets-transport');
    transport = new uWebSocketsTransport({ maxPayloadLength: 4096, idleTimeout: 32 });
  } else if (values.transport === 'ws') {
    const { WebSocketTransport } = await import('@colyseus/ws-transport');
    transport = new WebSocketTransport({ perMessageDeflate: false });
  } else throw new Error(`--transport is ws or uws, got ${values.transport}`);
  const server = new Server({ transport, greet: false, gracefullyShutdown: false });
  server.define('world', WorldRoom);
  const port = Number(values.port) || (await freePort());
  await server.listen(port, '127.0.0.1');
  await matchMaker.createRoom('world', {});
  process.stdout.write(`${JSON.stringify({ listen: `127.0.0.1:${port}`, peer: `colyseus-${values.transport}` })}\n`);
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setTimeout(stop, Number(values.lifetime) * 1000).unref();
}

void main().catch((e: unknown) => {
  process.stderr.write(`colyseus peer failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
