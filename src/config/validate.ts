// Start-up checks that span keys or need more than a key's own range: a
// multiple of another key, the zone layout, the token secret's length, thread
// pinning against this machine's CPUs. They run inside loadConfig, so
// `--check-config` refuses exactly what start-up would (exit 2, key named),
// and again in startServer for callers that build a Config by hand. Cold path.

import { availableParallelism } from 'node:os';
import { planPlacement, ThreadsError } from '../../native-bindings/threads.js';
import { defaultZoneDefs, validateZoneSet, type ZoneDef } from '../world/index.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { Config } from './schema.js';
import type { LoadedContent } from '../content/load.js';
import { REFERENCE_CONTENT } from '../content/reference.js';

/** Where a key's value came from ("env MMO_AUTH__TOKEN_SECRET"); "configuration" when unknown. */
export type OriginOf = (key: string) => string;

/** Bytes auth.tokenSecret must have when set (HMAC-SHA256 key). */
export const MIN_TOKEN_SECRET_BYTES = 32;

/** Zones the server runs: zones.count, or one per CPU but the gateway's. */
export function zoneCount(config: Config): number {
  return config.zones.count > 0 ? config.zones.count : Math.max(1, availableParallelism() - 1);
}

/** The zone layout: the default ring of zones with the configured rules. Throws WorldError for a bad layout. */
export function zoneDefs(config: Config, content: LoadedContent = { content: REFERENCE_CONTENT, module: '', source: 'built-in reference' }): ZoneDef[] {
  const z = config.zones;
  const w = config.world;
  const defs = defaultZoneDefs(zoneCount(config), { size: z.size, npcsPerZone: z.npcsPerZone, maxPlayers: z.maxPlayersPerZone, seed: z.seed, content: content.content });
  for (const d of defs) {
    if (content.module) d.content = { module: content.module, budgetMs: w.contentHookBudgetMs, maxConsecutiveErrors: w.contentMaxConsecutiveErrors };
    d.aoi = { ...d.aoi, ...w.aoi };
    d.movement = { ...d.movement, ...w.movement };
    d.combat = { ...d.combat, ...w.combat };
    d.sayRadius = w.sayRadius;
    d.sayMaxListeners = w.sayMaxListeners;
    d.linkDeadInvulnerable = w.linkDeadInvulnerable;
    d.maxLoot = w.maxLoot;
  }
  validateZoneSet(defs);
  return defs;
}

/** Every start-up issue of a schema-valid configuration, all at once. */
export function startupIssues(config: Config, originOf: OriginOf = () => 'configuration'): { issues: ConfigIssue[]; defs: ZoneDef[] | null } {
  const issues: ConfigIssue[] = [];
  const secret = config.auth.tokenSecret;
  if (secret !== '' && new TextEncoder().encode(secret).length < MIN_TOKEN_SECRET_BYTES) {
    // The value itself is a secret: never echo it.
    issues.push({ key: 'auth.tokenSecret', value: '(redacted)', source: originOf('auth.tokenSecret'), allowed: `empty (a generated secret) or at least ${MIN_TOKEN_SECRET_BYTES} bytes` });
  }
  if (config.pool.maxPages % config.pool.pagesPerSet !== 0) {
    issues.push({ key: 'pool.maxPages', value: config.pool.maxPages, source: originOf('pool.maxPages'), allowed: `a multiple of pool.pagesPerSet (${config.pool.pagesPerSet})` });
  }
  if (config.pool.minPages > config.pool.maxPages) {
    issues.push({ key: 'pool.minPages', value: config.pool.minPages, source: originOf('pool.minPages'), allowed: `at most pool.maxPages (${config.pool.maxPages})` });
  }
  let defs: ZoneDef[] | null = null;
  try {
    defs = zoneDefs(config);
  } catch (err) {
    issues.push({ key: 'zones/world', value: undefined, source: 'the zone layout', allowed: `a valid layout: ${(err as Error).message}` });
  }
  issues.push(...clusterIssues(config, defs, originOf));
  try {
    planPlacement(config.threads.pinning, { zones: defs?.length ?? zoneCount(config) });
  } catch (err) {
    if (!(err instanceof ThreadsError)) throw err;
    const key = err.key !== undefined ? `threads.pinning.${err.key}` : 'threads.pinning';
    issues.push({ key, value: config.threads.pinning, source: originOf('threads.pinning'), allowed: err.message });
  }
  return { issues, defs };
}

/**
 * A cluster (cluster.natsUrl set) needs what every node shares: one database
 * (PostgreSQL; per-node SQLite files would give each node its own copy of a
 * character), one token-signing key (a generated one is per data directory,
 * so a token from one node would fail on the others), and a placement that
 * names zones of the layout.
 */
function clusterIssues(config: Config, defs: ZoneDef[] | null, originOf: OriginOf): ConfigIssue[] {
  const c = config.cluster;
  if (c.natsUrl === '') return [];
  const issues: ConfigIssue[] = [];
  if (config.persist.postgresUrl === '') {
    issues.push({ key: 'persist.postgresUrl', value: '', source: originOf('persist.postgresUrl'), allowed: 'a PostgreSQL URL shared by every node when cluster.natsUrl is set (per-node SQLite files cannot share players)' });
  }
  if (config.auth.tokenSecret === '') {
    issues.push({ key: 'auth.tokenSecret', value: '', source: originOf('auth.tokenSecret'), allowed: `the same secret of at least ${MIN_TOKEN_SECRET_BYTES} bytes on every node when cluster.natsUrl is set (a generated one is per node, and tokens would fail on the others)` });
  }
  if (c.heartbeatMs * 2 > c.nodeTimeoutMs) {
    issues.push({ key: 'cluster.heartbeatMs', value: c.heartbeatMs, source: originOf('cluster.heartbeatMs'), allowed: `at most half of cluster.nodeTimeoutMs (${c.nodeTimeoutMs})` });
  }
  const ids = new Set(defs?.map((d) => d.id) ?? []);
  const bad = defs ? c.ownedZones.filter((z) => !ids.has(z)) : [];
  if (c.ownedZones.length === 0 || bad.length > 0 || new Set(c.ownedZones).size !== c.ownedZones.length) {
    issues.push({
      key: 'cluster.ownedZones',
      value: c.ownedZones,
      source: originOf('cluster.ownedZones'),
      allowed: `a non-empty list of distinct zone ids of the layout (1..${defs?.length ?? zoneCount(config)}) when cluster.natsUrl is set${bad.length ? `; not zones: ${bad.join(', ')}` : ''}`,
    });
  }
  return issues;
}

/** Throws ConfigError listing every start-up issue; returns the zone layout when there is none. */
export function assertStartupConfig(config: Config, originOf?: OriginOf): ZoneDef[] {
  const { issues, defs } = startupIssues(config, originOf);
  if (issues.length || !defs) throw new ConfigError(issues);
  return defs;
}
