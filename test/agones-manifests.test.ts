// deploy/agones-fleet.yaml and deploy/k8s-deployment.yaml are read by
// Kubernetes, not by our code, and there is no cluster here: so they are
// checked against what they describe. The container is the one
// deploy/Dockerfile builds (its CMD, ENV, EXPOSE), every MMO_* variable is a
// key of the config schema with a valid value (the real loader reads them),
// ports agree with net.port, Agones' health period leaves room for
// agones.healthIntervalMs, the grace period outlasts server.shutdownTimeoutMs,
// and the probe paths answer 200 on a real server.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { envName, loadConfig } from '../src/config/loader.js';
import { leafKeys, type Config } from '../src/config/schema.js';
import { startServer } from './helpers/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Obj = Record<string, any>;

function manifests(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(join(ROOT, file), 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], `${file}: YAML errors`);
  return docs.map((d) => d.toJS() as Obj);
}

/** What the image runs: CMD (JSON form), ENV pairs, EXPOSEd ports. */
function dockerfile(): { cmd: string[]; entrypoint: string[]; env: Record<string, string>; expose: number[] } {
  const text = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
  // The run stage: everything after the last FROM.
  const stage = text.slice(text.lastIndexOf('\nFROM '));
  const line = (kw: string) => stage.split('\n').filter((l) => l.startsWith(`${kw} `)).map((l) => l.slice(kw.length + 1).trim());
  const env: Record<string, string> = {};
  for (const l of line('ENV')) for (const pair of l.split(/\s+/)) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
  return {
    cmd: JSON.parse(line('CMD').at(-1)!) as string[],
    entrypoint: JSON.parse(line('ENTRYPOINT').at(-1)!) as string[],
    env,
    expose: line('EXPOSE').flatMap((l) => l.split(/\s+/).map((p) => Number.parseInt(p, 10))),
  };
}

const ENV_NAMES = new Set(leafKeys().map((l) => envName(l.path)));
/** Values Kubernetes fills in at run time, stood in by ones of the right shape. */
const PLACEHOLDERS: Record<string, string> = {
  'secretKeyRef:postgresUrl': 'postgres://mmo:secret@db:5432/mmo_realm_1',
  'secretKeyRef:tokenSecret': 'x'.repeat(64),
  'fieldRef:metadata.name': 'mmo-realm-1-x7k2p-9qz4d',
};

/** The config the container would run with: the image's CMD and ENV, then the manifest's env. */
function containerConfig(container: Obj): { config: Config; env: Record<string, string> } {
  const image = dockerfile();
  assert.equal(container.command, undefined, 'the image ENTRYPOINT (tini -> node dist/src/main.js) is kept');
  const argv = (container.args as string[] | undefined) ?? image.cmd;
  const env: Record<string, string> = { ...image.env };
  for (const e of (container.env ?? []) as Obj[]) {
    assert.ok(!e.name.startsWith('MMO_') || ENV_NAMES.has(e.name), `${e.name} is not a config key (see config/default.yaml for the env names)`);
    if (e.valueFrom) {
      const [kind, ref] = Object.entries(e.valueFrom as Obj)[0]!;
      const placeholder = PLACEHOLDERS[`${kind}:${ref.key ?? ref.fieldPath}`];
      assert.ok(placeholder, `${e.name}: no stand-in for ${kind} ${JSON.stringify(ref)}`);
      env[e.name] = placeholder;
    } else {
      // Kubernetes rejects a non-string env value (an unquoted true or 2000).
      assert.equal(typeof e.value, 'string', `${e.name}: env values must be quoted strings`);
      env[e.name] = e.value;
    }
  }
  return { config: loadConfig({ argv, env, cwd: ROOT }).config, env };
}

/** Kubernetes CPU quantity in cores: "7", "7500m". */
function cores(q: string | number): number {
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

/** A probe's port: a number, or the name of a container port. */
function portOf(container: Obj, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = (container.ports as Obj[]).find((x) => x.name === port);
  assert.ok(p, `no container port named ${port}`);
  return p.containerPort as number;
}

function checkResources(container: Obj): void {
  const cpu = cores(container.resources.requests.cpu);
  assert.ok(cpu > 1 && cpu < 8, `an 8-core node, with room for the kubelet: requests.cpu ${cpu}`);
  assert.match(String(container.resources.requests.memory), /^\d+(Mi|Gi)$/);
  assert.equal(container.resources.limits?.cpu, undefined, 'no CPU limit (CFS throttling stalls the tick)');
  assert.equal(container.resources.limits.memory, container.resources.requests.memory);
}

describe('deploy/agones-fleet.yaml', () => {
  const docs = manifests('deploy/agones-fleet.yaml');
  const fleet = docs.find((d) => d.kind === 'Fleet')!;
  const gs = fleet?.spec?.template?.spec as Obj;
  const pod = gs?.template?.spec as Obj;
  const container = (pod?.containers as Obj[] | undefined)?.find((c) => c.name === gs.container) as Obj;

  test('is an agones.dev/v1 Fleet whose GameServer container is the image deploy/Dockerfile builds', () => {
    assert.equal(docs.length, 1);
    assert.equal(fleet.apiVersion, 'agones.dev/v1');
    assert.ok(container, `spec.template.spec.container (${gs.container}) names a container of the pod`);
    assert.match(container.image, /^(.+\/)?mmo-server:/);
    assert.equal(fleet.spec.replicas, 1, 'one world per database (see the comment)');
  });

  test('env names are config keys, the values load, and Agones is on with the sidecar found through AGONES_SDK_HTTP_PORT', () => {
    const { config, env } = containerConfig(container);
    assert.equal(config.agones.enabled, true);
    assert.equal(config.agones.sdkUrl, '', 'no fixed sidecar URL: Agones sets AGONES_SDK_HTTP_PORT');
    assert.equal(env.MMO_AGONES__SDK_URL, undefined);
    assert.equal(config.net.host, '0.0.0.0', 'reachable from the node port');
    assert.notEqual(config.persist.postgresUrl, '', 'the realm database, not a SQLite file in a pod that Agones deletes');
    assert.notEqual(config.auth.tokenSecret, '', 'tokens outlive the pod');
    assert.equal(config.server.dataDir, (container.volumeMounts as Obj[]).find((m) => m.name === 'data')!.mountPath);
  });

  test('ports agree with net.port and the image', () => {
    const { config } = containerConfig(container);
    const game = (gs.ports as Obj[]).find((p) => p.name === 'game')!;
    assert.equal(game.containerPort, config.net.port);
    assert.equal(game.protocol, 'TCP', 'WebSocket is TCP (Agones defaults to UDP)');
    assert.ok(['Dynamic', 'Passthrough', 'Static'].includes(game.portPolicy));
    assert.ok(dockerfile().expose.includes(config.net.port), 'the image EXPOSEs net.port');
    assert.equal(portOf(container, 'game'), config.net.port);
  });

  test('health settings leave room for agones.healthIntervalMs; the grace period outlasts server.shutdownTimeoutMs', () => {
    const { config } = containerConfig(container);
    const h = gs.health as Obj;
    assert.notEqual(h.disabled, true);
    assert.ok(h.periodSeconds * 1000 >= 2 * config.agones.healthIntervalMs, `two Health pings per period: periodSeconds ${h.periodSeconds}, healthIntervalMs ${config.agones.healthIntervalMs}`);
    assert.ok(config.agones.requestTimeoutMs < config.agones.healthIntervalMs, 'a hung call does not skip the next ping');
    assert.ok(h.failureThreshold >= 2);
    assert.ok(h.initialDelaySeconds >= 10, 'start-up (database, zones) comes before the first ping');
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > config.server.shutdownTimeoutMs);
    assert.equal(container.livenessProbe, undefined, 'Agones checks health through the SDK; a liveness restart marks the GameServer Unhealthy');
    checkResources(container);
  });
});

describe('deploy/k8s-deployment.yaml', () => {
  const docs = manifests('deploy/k8s-deployment.yaml');
  const deployment = docs.find((d) => d.kind === 'Deployment')!;
  const service = docs.find((d) => d.kind === 'Service')!;
  const claim = docs.find((d) => d.kind === 'PersistentVolumeClaim')!;
  const pod = deployment?.spec?.template?.spec as Obj;
  const container = (pod?.containers as Obj[] | undefined)?.[0] as Obj;

  test('a Deployment of one pod (Recreate), a Service in front, the data on a claim', () => {
    assert.equal(deployment.apiVersion, 'apps/v1');
    assert.equal(deployment.spec.replicas, 1);
    assert.equal(deployment.spec.strategy.type, 'Recreate', 'two pods on one data directory: the second exits 5');
    assert.match(container.image, /^(.+\/)?mmo-server:/);
    assert.deepEqual(deployment.spec.selector.matchLabels, service.spec.selector);
    for (const [k, v] of Object.entries(service.spec.selector as Obj)) assert.equal(deployment.spec.template.metadata.labels[k], v);
    const { config } = containerConfig(container);
    assert.equal(config.agones.enabled, false);
    const data = (container.volumeMounts as Obj[]).find((m) => m.mountPath === config.server.dataDir);
    assert.ok(data, `server.dataDir (${config.server.dataDir}) is on a volume`);
    assert.equal((pod.volumes as Obj[]).find((v) => v.name === data.name)!.persistentVolumeClaim.claimName, claim.metadata.name);
  });

  test('ports, probes and grace period agree with the config', () => {
    const { config } = containerConfig(container);
    assert.equal(pod.terminationGracePeriodSeconds * 1000 > config.server.shutdownTimeoutMs, true);
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      assert.equal(portOf(container, container[probe].httpGet.port), config.net.port, `${probe} port`);
    }
    const sp = service.spec.ports[0] as Obj;
    assert.equal(portOf(container, sp.targetPort), config.net.port);
    assert.equal(sp.protocol, 'TCP');
    assert.equal(service.spec.externalTrafficPolicy, 'Local', 'per-address limits need the players\' addresses');
    checkResources(container);
  });
});

test('the probe paths both manifests use answer 200 on a running server', async () => {
  const paths = new Set<string>();
  for (const file of ['deploy/k8s-deployment.yaml', 'deploy/agones-fleet.yaml']) {
    const walk = (o: unknown): void => {
      if (!o || typeof o !== 'object') return;
      const h = (o as Obj).httpGet as Obj | undefined;
      if (h?.path) paths.add(h.path as string);
      for (const v of Object.values(o as Obj)) walk(v);
    };
    manifests(file).forEach(walk);
  }
  assert.deepEqual([...paths].sort(), ['/healthz', '/readyz']);
  const s = await startServer();
  try {
    for (const p of paths) assert.equal((await fetch(s.url + p)).status, 200, p);
  } finally {
    await s.stop();
  }
});
