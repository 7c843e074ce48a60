// Peer: the ceiling. A bare uWebSockets.js server (loaded through our
// src/net/uws.ts, the same native binary as the gateway) doing the fan-out
// with no game logic: every tick (20 Hz) every socket gets one binary frame
// of --frame-bytes (bench:compare passes the mean frame size measured on our
// server in the same run), all sends of a tick inside one cork per socket as
// our gateway does; pings are answered at once, chat is echoed, moves and
// attacks are read and dropped. Prints {"listen":"127.0.0.1:<port>"} once
// ready; stops on SIGTERM/SIGINT or after --lifetime seconds.
//
//   node dist/loadtest/peers/uws-bare.js [--port 0] [--frame-bytes 600] [--tick-hz 20] [--lifetime 900]

import { parseArgs } from 'node:util';
import { loadUws, type WebSocket } from '../../src/net/uws.js';
import { PeerMsg, PeerOut } from './wire.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'frame-bytes': { type: 'string', default: '600' },
    'tick-hz': { type: 'string', default: '20' },
    lifetime: { type: 'string', default: '900' },
  },
});

const { uws } = loadUws({ allowSlowFallback: false });
const frameBytes = Math.max(16, Number(values['frame-bytes']));
const frame = new Uint8Array(frameBytes);
frame[0] = PeerOut.state;
const pong = new Uint8Array(16);
const pongView = new DataView(pong.buffer);
pong[0] = PeerOut.pong;
const hello = new Uint8Array(16);
const helloView = new DataView(hello.buffer);
hello[0] = PeerOut.hello;

type Ws = WebSocket<{ id: number }>;
const sockets = new Set<Ws>();
let nextId = 1;
let tick = 0;
const frameView = new DataView(frame.buffer);

const app = uws.App();
app.ws<{ id: number }>('/*', {
  maxPayloadLength: 4096,
  idleTimeout: 32,
  maxBackpressure: 1 << 20,
  upgrade: (res, req, ctx) => {
    res.upgrade({ id: nextId++ }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), ctx);
  },
  open: (ws) => {
    sockets.add(ws);
    helloView.setFloat32(4, 256 + Math.random() * 512, true);
    helloView.setFloat32(8, 256 + Math.random() * 512, true);
    helloView.setUint32(12, ws.getUserData().id, true);
    ws.send(hello, true);
  },
  message: (ws, data) => {
    const b = new Uint8Array(data);
    if (b.length === 0) return;
    if (b[0] === PeerMsg.ping && b.length >= 16) {
      pongView.setFloat64(8, new DataView(data).getFloat64(8, true), true);
      ws.send(pong, true);
    } else if (b[0] === PeerMsg.chat) ws.send(b, true);
  },
  close: (ws) => {
    sockets.delete(ws);
  },
});
app.get('/healthz', (res) => void res.end('ok'));

app.listen('127.0.0.1', Number(values.port), (ls) => {
  if (!ls) {
    process.stderr.write('uws-bare: cannot listen\n');
    process.exit(1);
  }
  const port = uws.us_socket_local_port(ls as never);
  process.stdout.write(`${JSON.stringify({ listen: `127.0.0.1:${port}`, peer: 'uws-bare', frameBytes })}\n`);
});

setInterval(() => {
  tick++;
  frameView.setUint32(4, tick, true);
  for (const ws of sockets) ws.cork(() => ws.send(frame, true));
}, 1000 / Number(values['tick-hz']));

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, Number(values.lifetime) * 1000).unref();
