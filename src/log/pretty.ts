// Human-readable log output (log.pretty): pino-pretty as a stream in this
// thread, writing synchronously to stdout. Not a pino transport: a transport
// runs pino-pretty in a worker thread that loads it by module name from
// node_modules, and the standalone binary has no node_modules (its bundle
// carries pino-pretty inside). Pretty output is for a person at a terminal:
// formatting a line in this thread costs it microseconds per line, and the
// process logs only rare events at info level. Synchronous, so the last lines
// before an exit are out.
//
// Loaded on demand (import() from main.ts): pino-pretty takes ~30 ms to load,
// which a server logging JSON should not pay.

import pinoPretty from 'pino-pretty';
import type { DestinationStream } from 'pino';

/** Colours only on a terminal; `destination` is stdout (fd 1) but for tests. */
export function prettyStream(colorize = process.stdout.isTTY === true, destination: number | NodeJS.WritableStream = 1): DestinationStream {
  return pinoPretty({ colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true, destination }) as DestinationStream;
}
