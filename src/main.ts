#!/usr/bin/env node
// mmo-server: the process entry. Parses arguments and configuration, starts
// the server, and turns signals into a graceful shutdown.
//
// Exit codes: 0 clean stop or --help/--check-config; 1 runtime failure or
// shutdown timeout; 2 invalid configuration or arguments; 3 native
// uWebSockets.js unavailable (see net.allowSlowFallback); 4 net.host:net.port
// in use by another process; 5 server.dataDir in use by another server.

import { nativeStatus } from '../native-bindings/index.js';
import { loadConfig, ConfigError, renderConfigYaml, redactConfig, type LoadedConfig } from './config/index.js';
import { createLogger, flushLogs, wantsPretty, type Logger } from './log/logger.js';
import { UwsLoadError } from './net/uws.js';
import { PORT_IN_USE } from './net/port-guard.js';
import { DATA_DIR_LOCKED } from './persist/data-dir-lock.js';
import { checkContent, startServer, type RunningServer } from './server.js';
import { VERSION } from './version.js';

const USAGE = `mmo-server ${VERSION}: high-density MMORPG server

Usage: mmo-server [--config FILE] [--section.key=value ...] [options]

Options:
  -c, --config FILE     YAML configuration file (also MMO_CONFIG). Without one the
                        embedded defaults apply; config/default.yaml lists every key.
      --check-config    validate the merged configuration, print where it came from, exit
      --print-config    print the merged configuration as YAML (secrets masked) and exit
  -v, --version         print the version and exit
  -h, --help            this text

Any setting can be overridden: --net.port=9000 on the command line, or
MMO_NET__PORT=9000 in the environment. Precedence: defaults < file < env < CLI.

Exit codes: 0 ok, 1 runtime failure, 2 bad configuration, 3 native uWebSockets.js unavailable,
4 port in use by another process, 5 data directory in use by another server.
`;

function main(): void {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mmo-server: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { flags, config } = loaded;
  if (flags.help) return void process.stdout.write(USAGE);
  if (flags.version) return void process.stdout.write(`${VERSION}\n`);
  if (flags.printConfig) return void process.stdout.write(renderConfigYaml(redactConfig(config), { comments: false }));
  if (flags.checkConfig) {
    // The content module too: it can fail to load or define nonsense (exit 2, naming it).
    return void checkContent(config).then(
      (content) => void process.stdout.write(`configuration OK (${loaded.sources.join(' < ')}); content ${content}\n`),
      (err: unknown) => {
        process.stderr.write(`mmo-server: ${(err as Error).message}\n`);
        process.exit(2);
      },
    );
  }

  // pino-pretty is loaded only when asked for (~30 ms), and bundled into the standalone binary (src/log/pretty.ts).
  const pretty = wantsPretty(config.log) ? import('./log/pretty.js').then((m) => m.prettyStream()) : Promise.resolve(undefined);
  pretty.then(
    (stream) => start(loaded, createLogger(config.log, { pretty: stream })),
    (err: unknown) => {
      process.stderr.write(`mmo-server: log.pretty = ${config.log.pretty}: the pretty printer (pino-pretty) could not be loaded: ${(err as Error).message}; set log.pretty=never for JSON lines\n`);
      process.exit(2);
    },
  );
}

function start(loaded: LoadedConfig, log: Logger): void {
  run(loaded, log).catch((err: unknown) => {
    const code = exitCodeOf(err);
    // The refusals an operator fixes (a port, a directory, a key) also go to stderr as one plain line.
    if (code !== 1) process.stderr.write(`mmo-server: ${err instanceof Error ? err.message : String(err)}\n`);
    log.fatal({ err }, err instanceof Error ? err.message : 'start-up failed');
    flushLogs();
    process.exit(code);
  });
}

/** Start-up failures with their own exit code, by the error's stable code. */
const EXIT_BY_CODE: Readonly<Record<string, number>> = {
  [PORT_IN_USE]: 4,
  [DATA_DIR_LOCKED]: 5,
};

function exitCodeOf(err: unknown): number {
  if (err instanceof UwsLoadError) return 3;
  if (err instanceof ConfigError) return 2;
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && EXIT_BY_CODE[code]) || 1;
}

async function run(loaded: LoadedConfig, log: Logger): Promise<void> {
  const { config } = loaded;
  const server: RunningServer = await startServer(loaded, log);
  let signalled = false;
  // Exits before the shutdown finished (a second SIGINT, the deadline, a failed shutdown): the gateway
  // threads end first, since Node aborts a process that exits while a uWS thread runs. If even that
  // hangs, SIGKILL: the data on disk is as safe as after any crash (persistence survives SIGKILL).
  const exitNow = (code: number): void => {
    flushLogs();
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 2000).unref();
    void server.gateway.close(1000).finally(() => process.exit(code));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      // A repeated SIGTERM is a supervisor saying the same thing again (Kubernetes deletes the pod
      // once Agones hears Shutdown; systemd may resend): the save in progress goes on, bounded by
      // server.shutdownTimeoutMs. A second SIGINT is an operator pressing Ctrl-C again: exit now.
      if (signal !== 'SIGINT') {
        log.warn({ signal }, 'signal during shutdown ignored: the shutdown in progress goes on (a second SIGINT exits at once)');
        return;
      }
      log.warn({ signal }, 'second signal: exiting now');
      exitNow(1);
      return;
    }
    signalled = true;
    const deadline = setTimeout(() => {
      log.error({ timeoutMs: config.server.shutdownTimeoutMs }, 'shutdown timed out; exiting with work unfinished');
      exitNow(1);
    }, config.server.shutdownTimeoutMs);
    deadline.unref();
    server.shutdown(signal).then(
      () => {
        log.info({ signal }, 'shutdown complete');
        flushLogs();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        exitNow(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', (err) => {
    // stderr too: this must be seen even when the log pipe is what broke.
    process.stderr.write(`mmo-server: uncaught exception on the gateway thread: ${err instanceof Error ? err.stack : String(err)}\n`);
    log.fatal({ err }, 'uncaught exception on the gateway thread; shutting down');
    onSignal('SIGTERM');
  });
  // Logged only once the handlers are in: a supervisor (or a test) may signal as soon as it reads this line,
  // and a signal before process.on() would kill the process without a graceful shutdown.
  log.info(
    {
      version: VERSION,
      config: loaded.sources.join(' < '),
      listen: `${config.net.host}:${server.port}`,
      ws: config.net.wsPath,
      zones: server.zones.count,
      uws: server.uws.native ? 'native' : 'emulation',
      native: nativeStatus.available ? 'addon' : 'fallback',
      pinning: server.threads.placement.mode,
    },
    `mmo-server ${VERSION} listening on ${config.net.host}:${server.port} (uWS ${server.uws.native ? 'native' : 'EMULATION'})`,
  );
}

main();
