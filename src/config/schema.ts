// The configuration schema: one place that states every key, its type, its
// default, its allowed range and what it is for. The commented default file
// (config/default.yaml) and the validation messages are both derived from it,
// so the documentation cannot drift from what the server accepts.
//
// Sections are added by the layer that uses them; a key exists only once the
// code that reads it does.

import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';

const KiB = 1024;
const MiB = 1024 * KiB;

const strict = { additionalProperties: false } as const;

export const ServerSection = Type.Object(
  {
    name: Type.String({
      default: 'mmo-server',
      minLength: 1,
      maxLength: 64,
      description: 'Name of this server instance, in logs and metrics.',
    }),
    shutdownTimeoutMs: Type.Integer({
      default: 4000,
      minimum: 100,
      maximum: 120_000,
      description:
        'On SIGTERM/SIGINT: how long to wait for clients to be told and state to be flushed before exiting anyway (exit code 1).',
    }),
    dataDir: Type.String({
      default: './data',
      minLength: 1,
      description: 'Directory for the embedded database and other local state. Created if missing.',
    }),
  },
  { ...strict, description: 'The process as a whole.' },
);

export const NetSection = Type.Object(
  {
    host: Type.String({
      default: '0.0.0.0',
      minLength: 1,
      description: 'Address to listen on (HTTP and WebSocket share one port).',
    }),
    port: Type.Integer({
      default: 7777,
      minimum: 0,
      maximum: 65535,
      description: 'TCP port; 0 asks the OS for a free one (the chosen port is logged).',
    }),
    wsPath: Type.String({
      default: '/ws',
      pattern: '^/[A-Za-z0-9_\\-/]*$',
      description: 'URL path of the WebSocket endpoint.',
    }),
    maxPayloadLength: Type.Integer({
      default: 4 * KiB,
      minimum: 64,
      maximum: 16 * MiB,
      description:
        'Largest inbound WebSocket message in bytes. A bigger frame closes that socket only. Client messages are small; 4 KiB leaves room for chat.',
    }),
    idleTimeout: Type.Union([Type.Literal(0), Type.Integer({ minimum: 9, maximum: 960 })], {
      default: 16,
      description:
        'Seconds without any frame before a socket is closed as dead; 0 disables. uWS rounds it to 4 s. A dead socket turns its session into a zombie, so lower means faster detection.',
    }),
    maxBackpressure: Type.Integer({
      default: 1 * MiB,
      minimum: 4 * KiB,
      maximum: 256 * MiB,
      description:
        'Bytes a socket may have queued in the kernel and uWS before further sends to it are dropped (counted in mmo_net_backpressure_drops_total).',
    }),
    sendPingsAutomatically: Type.Boolean({
      default: true,
      description: 'Let uWS send WebSocket pings before idleTimeout so quiet but live clients stay connected.',
    }),
    allowSlowFallback: Type.Boolean({
      default: false,
      description:
        'Start even when the native uWebSockets.js binary does not load, using the package\'s slow pure-JS emulation. For development on unsupported platforms only.',
    }),
  },
  { ...strict, description: 'Network front end: the uWebSockets.js listener.' },
);

export const LogSection = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'Lowest level written.' },
    ),
    pretty: Type.Union([Type.Literal('auto'), Type.Literal('always'), Type.Literal('never')], {
      default: 'auto',
      description: 'Human-readable output: auto means only when stdout is a terminal; otherwise one JSON object per line.',
    }),
  },
  { ...strict, description: 'Logging (pino).' },
);

export const MetricsSection = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve Prometheus metrics at GET /metrics.' }),
    eventLoopSampleMs: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 1000,
      description: 'Sampling period of the event-loop delay histogram (mmo_eventloop_delay_seconds).',
    }),
  },
  { ...strict, description: 'Prometheus metrics.' },
);

// Kept equal to PINNING_KEY_PATTERN / CPU_LIST_PATTERN in native-bindings/threads.ts
// (a test checks): the config layer does not import the addon's loader.
const PINNING_KEY = '^(\\*|[a-z][a-z0-9]{0,9}(-([0-9]{1,4}|\\*))?)$';
const CPU_LIST = '^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*$';

export const ThreadsSection = Type.Object(
  {
    pinning: Type.Union(
      [
        Type.Literal('off'),
        Type.Literal('auto'),
        Type.Record(
          Type.String({ pattern: PINNING_KEY }),
          Type.Union([Type.Integer({ minimum: 0, maximum: 8191 }), Type.String({ pattern: CPU_LIST })]),
          { minProperties: 1, additionalProperties: false },
        ),
      ],
      {
        default: 'off',
        description:
          'Which CPUs each thread runs on. off: wherever the OS schedules it. auto: the gateway on the first CPU, zone i on CPU (1 + i) mod N, ' +
          'every other thread (the pool) on the CPUs after the zones\' (all but the gateway\'s when zones fill the machine); N counts the CPUs ' +
          'the process may use (taskset and cgroups respected). Or a mapping from a thread name (gateway, zone-2), a role wildcard (zone-*) ' +
          'or * to a CPU or CPU list ("4-7"); the most specific key wins and unmatched threads use every CPU. A CPU the process may not use ' +
          'stops start-up. Needs the native addon; without it this is ignored with a warning.',
      },
    ),
    cpuPublishMs: Type.Integer({
      default: 1000,
      minimum: 10,
      maximum: 60_000,
      description:
        'How often each thread stores its CPU seconds in the shared table behind mmo_thread_cpu_seconds_total. With the native addon live ' +
        'threads are read from the kernel at scrape time anyway; this bounds how stale the estimate and an exited thread\'s last figure are.',
    }),
  },
  { ...strict, description: 'Threads: CPU placement, names (top -H, /proc) and per-thread CPU accounting (native-bindings/).' },
);

export const ConfigSchema = Type.Object(
  {
    server: ServerSection,
    net: NetSection,
    log: LogSection,
    metrics: MetricsSection,
    threads: ThreadsSection,
  },
  strict,
);

export type Config = Static<typeof ConfigSchema>;
export type ServerConfig = Static<typeof ServerSection>;
export type NetConfig = Static<typeof NetSection>;
export type LogConfig = Static<typeof LogSection>;
export type MetricsConfig = Static<typeof MetricsSection>;
export type ThreadsConfig = Static<typeof ThreadsSection>;

/** Walks the schema: every leaf key with its dotted path. Cold path. */
export function leafKeys(schema: TObject = ConfigSchema, prefix = ''): Array<{ path: string; schema: TSchema }> {
  const out: Array<{ path: string; schema: TSchema }> = [];
  for (const [key, sub] of Object.entries(schema.properties)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isObjectSchema(sub)) out.push(...leafKeys(sub, path));
    else out.push({ path, schema: sub });
  }
  return out;
}

export function isObjectSchema(s: TSchema): s is TObject {
  return s.type === 'object' && typeof s.properties === 'object';
}
