// One root logger per process; everything else takes a child bound to its ids
// (sid, zone, thread). Nothing is serialized on a hot path at info level:
// per-message events log at debug/trace behind an isLevelEnabled check.

import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogConfig } from '../config/schema.js';
import { TAIL_MIN_LEVEL, warningTail } from './tail.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** Write here instead of stdout (tests). */
  destination?: DestinationStream;
  /** Where pretty lines go when cfg.pretty asks for them: prettyStream() from ./pretty.js, loaded on demand (see wantsPretty). */
  pretty?: DestinationStream;
  /** Bound on every line. */
  base?: Record<string, unknown>;
}

/** Whether cfg asks for human-readable lines on this stdout. */
export function wantsPretty(cfg: LogConfig): boolean {
  return cfg.pretty === 'always' || (cfg.pretty === 'auto' && process.stdout.isTTY === true);
}

export const LOG_PRETTY_UNAVAILABLE = 'MMO_ERR_LOG_PRETTY';

export function createLogger(cfg: LogConfig, opts: LoggerOptions = {}): Logger {
  const base = { pid: process.pid, ...opts.base };
  if (wantsPretty(cfg) && !opts.destination) {
    if (!opts.pretty) {
      throw Object.assign(new Error(`log.pretty = ${cfg.pretty}: pretty output needs the stream from src/log/pretty.ts (pass { pretty: prettyStream() })`), { code: LOG_PRETTY_UNAVAILABLE });
    }
    return pino({ level: cfg.level, base }, withTail(opts.pretty, cfg.level));
  }
  if (opts.destination) return pino({ level: cfg.level, base, timestamp: pino.stdTimeFunctions.isoTime }, withTail(opts.destination, cfg.level));
  // Asynchronous writes keep the gateway thread off stdout's pipe; flushed at exit.
  const dest = pino.destination({ dest: 1, sync: false });
  // A closed or broken stdout (a log shipper that died, `| head`) must cost the
  // logs, never the game: count the failure and stop writing to it.
  dest.on('error', () => {
    logWriteErrors++;
    stdoutDestinations.delete(dest);
  });
  stdoutDestinations.add(dest);
  return pino({ level: cfg.level, base, timestamp: pino.stdTimeFunctions.isoTime }, withTail(dest, cfg.level));
}

/** The destination plus the dashboard's warning tail (src/log/tail.ts): lines at warn and above go to both. */
function withTail(dest: DestinationStream, level: string): DestinationStream {
  return pino.multistream([
    { level: level as pino.Level, stream: dest },
    { level: TAIL_MIN_LEVEL as unknown as pino.Level, stream: warningTail },
  ]) as unknown as DestinationStream;
}

const stdoutDestinations = new Set<{ flushSync(): void; emit(event: 'error', err: unknown): boolean }>();
let logWriteErrors = 0;

/** Log writes that failed (stdout closed or broken) since start: mmo_log_write_errors_total. */
export function logWriteErrorCount(): number {
  return logWriteErrors;
}

/** Writes out buffered log lines synchronously; call before process.exit. */
export function flushLogs(): void {
  for (const d of stdoutDestinations) {
    try {
      d.flushSync();
    } catch (err) {
      // Stdout is gone (sonic-boom >= 5 throws EPIPE here instead of retrying
      // forever, which is why package.json overrides it). Raised as the
      // stream's 'error' event, pino's broken-pipe filter disarms the stream,
      // so its own flush at process exit does not throw the same error again.
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') d.emit('error', err);
      else logWriteErrors++;
    }
  }
}

/**
 * A worker thread's logger: synchronous writes to fd 1, so a line is out
 * before a crash that follows it, and nothing depends on the worker's event
 * loop running (a zone spends its time in Atomics.wait). Workers log rarely.
 */
export function createWorkerLogger(level: string, base: Record<string, unknown>): Logger {
  return pino({ level, base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
}
