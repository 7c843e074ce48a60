// Two (or more) server processes sharing one world over a real nats-server
// and one PostgreSQL database, each owning some of the zones: the set-up of
// the cluster tests (cluster-node, cluster-resume, cluster-account). Every
// node gets the same token secret, so a token from one is good on all.

import { spawn, type ChildProcess } from 'node:child_process';
import { startServer, type TestServer } from './server.js';
import { startPgCluster, freePort, type PgCluster } from './pg-cluster.js';
import { waitFor } from './wait.js';

export const CLUSTER_SECRET = 's'.repeat(48);
const NATS_SERVER = '/usr/sbin/nats-server';

export interface ClusterNodeSpec {
  id: string;
  /** Zone ids this node owns. */
  zones: number[];
  /** More command-line arguments for this node only. */
  args?: string[];
}

export interface TestCluster {
  nodes: TestServer[];
  natsUrl: string;
  /** The shared database's URL. */
  db: string;
  pg: PgCluster;
  /** The nats-server process now (replaced by restartNats). */
  nats: ChildProcess;
  /** SIGKILLs nats-server and waits for it to exit. */
  killNats(): Promise<void>;
  /** Starts nats-server again on the same port. */
  startNats(): void;
  /** Stops every node still running (SIGTERM), nats-server and PostgreSQL. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  nodes: ClusterNodeSpec[];
  /** Total zones of the world (every node has the whole layout). Default 2. */
  zoneCount?: number;
  heartbeatMs?: number;
  nodeTimeoutMs?: number;
  /** Arguments every node gets (after the cluster's own). */
  args?: string[];
}

export function clusterNodeArgs(o: { id: string; zones: number[]; db: string; natsUrl: string; zoneCount: number; heartbeatMs: number; nodeTimeoutMs: number }): string[] {
  return [
    `--zones.count=${o.zoneCount}`,
    '--zones.size=128',
    '--zones.npcsPerZone=0',
    `--persist.postgresUrl=${o.db}`,
    `--cluster.natsUrl=${o.natsUrl}`,
    `--cluster.nodeId=${o.id}`,
    `--cluster.ownedZones=${o.zones.join(',')}`,
    `--cluster.heartbeatMs=${o.heartbeatMs}`,
    `--cluster.nodeTimeoutMs=${o.nodeTimeoutMs}`,
  ];
}

/** What a node says of the others on GET /cluster. */
export async function clusterStatus(s: TestServer): Promise<{ node: string; owners: Record<string, string>; nodes: Array<{ id: string; alive: boolean; url: string; owned: number[] }> }> {
  return (await (await fetch(`${s.url}/cluster`)).json()) as Awaited<ReturnType<typeof clusterStatus>>;
}

/**
 * Starts nats-server on a free port, a throwaway PostgreSQL database, and the
 * nodes one after the other (the first creates the schema), then waits until
 * every node hears every other with its public URL.
 */
export async function startCluster(opts: ClusterOptions): Promise<TestCluster> {
  const natsPort = await freePort();
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  const spawnNats = (): ChildProcess => spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(natsPort)], { stdio: 'ignore' });
  const nodes: TestServer[] = [];
  let pg: PgCluster | null = null;
  const c: TestCluster = {
    nodes,
    natsUrl,
    db: '',
    pg: null as unknown as PgCluster,
    nats: spawnNats(),
    async killNats() {
      const old = c.nats;
      if (old.exitCode !== null || old.signalCode !== null) return;
      old.kill('SIGKILL');
      await new Promise((r) => old.once('exit', r));
    },
    startNats() {
      c.nats = spawnNats();
    },
    async stop() {
      await Promise.all(nodes.map((n) => (n.child.exitCode === null && n.child.signalCode === null ? n.stop() : null)));
      c.nats.kill('SIGKILL');
      await pg?.destroy();
    },
  };
  try {
    pg = await startPgCluster();
    c.pg = pg;
    c.db = await pg.createDatabase();
    const env = { MMO_AUTH__TOKEN_SECRET: CLUSTER_SECRET };
    for (const n of opts.nodes) {
      const args = clusterNodeArgs({ id: n.id, zones: n.zones, db: c.db, natsUrl, zoneCount: opts.zoneCount ?? 2, heartbeatMs: opts.heartbeatMs ?? 200, nodeTimeoutMs: opts.nodeTimeoutMs ?? 2000 });
      nodes.push(await startServer({ args: [...args, ...(opts.args ?? []), ...(n.args ?? [])], env, timeoutMs: 30_000 }));
    }
    await waitFor(
      async () => {
        for (const s of nodes) {
          const st = await clusterStatus(s);
          for (const o of nodes) if (o !== s && !st.nodes.some((e) => e.alive && e.url === o.wsUrl)) return false;
        }
        return true;
      },
      10_000,
      'every node to hear every other and its public URL',
    );
  } catch (err) {
    await c.stop().catch(() => undefined);
    throw err;
  }
  return c;
}
