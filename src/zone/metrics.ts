// Per-zone metrics, read at scrape time from each zone's shared stats block
// (written by the zone thread, so a figure may be one tick old).

import type { Registry } from 'prom-client';
import { WorldStat } from '../world/index.js';
import { ZoneStat, TICK_BUCKETS } from './shared.js';
import { ZONE_STATE_NAMES, ZoneState, type ZoneSet } from './host.js';
import { Doorbell } from '../ring/index.js';

type Labels = Record<string, string | number>;
interface Sample {
  metricName?: string;
  labels: Labels;
  value: number;
}

/** A metric computed from the zones at scrape time. */
function register(registry: Registry, name: string, help: string, type: 'counter' | 'gauge' | 'histogram', read: () => Sample[]): void {
  registry.registerMetric({
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => ({ name, help, type, aggregator: 'sum', values: read() }),
    reset: () => {},
  } as never);
}

const MOVE_REJECT_NAMES = ['', 'speed', 'teleport', 'obstacle', 'bounds', 'dead'];
/** World events but the content hook faults, which have their own metric. */
const WORLD_EVENTS = Object.entries(WorldStat).filter(([, i]) => i !== WorldStat.hookErrors && i !== WorldStat.hookOverruns);

export function registerZoneMetrics(registry: Registry, zones: ZoneSet): void {
  register(registry, 'mmo_zone_output_errors_total', 'Exceptions while handling zone output on the main thread; each dropped one record, nothing else.', 'counter', () => [{ labels: {}, value: zones.drainErrors }]);
  const each = (slot: number) => () => zones.hosts.map((h) => ({ labels: { zone: h.def.id }, value: h.stats[slot]! }));
  // The bells live in each zone's shared memory, which outlives its workers: the counts survive restarts.
  const inboundBells = zones.hosts.map((h) => (h.memory ? new Doorbell(h.memory.bell) : null));
  register(registry, 'mmo_zone_wakeups_total', 'Times the main thread woke an idle zone worker with input (one Atomics.notify each).', 'counter', () =>
    zones.hosts.map((h, i) => ({ labels: { zone: h.def.id }, value: inboundBells[i]?.notifies() ?? 0 })),
  );
  register(registry, 'mmo_zone_output_wakeups_total', 'Times zone workers woke the idle main thread with output (its ring; with gateway threads the zones wake those: mmo_gateway_thread_wakeups_total).', 'counter', () => [{ labels: {}, value: zones.gatewayBell.notifies() }]);
  register(registry, 'mmo_zone_tick_seconds', 'Duration of each zone tick (the 20 Hz budget is 0.05 s).', 'histogram', () => {
    const out: Sample[] = [];
    for (const h of zones.hosts) {
      let acc = 0;
      for (let b = 0; b <= TICK_BUCKETS.length; b++) {
        acc += h.stats[ZoneStat.tickBuckets + b]!;
        out.push({ metricName: 'mmo_zone_tick_seconds_bucket', labels: { zone: h.def.id, le: b < TICK_BUCKETS.length ? TICK_BUCKETS[b]! : '+Inf' }, value: acc });
      }
      out.push({ metricName: 'mmo_zone_tick_seconds_sum', labels: { zone: h.def.id }, value: h.stats[ZoneStat.tickSecondsSum]! });
      out.push({ metricName: 'mmo_zone_tick_seconds_count', labels: { zone: h.def.id }, value: acc });
    }
    return out;
  });
  register(registry, 'mmo_zone_tick_overruns_total', 'Ticks that ended after the next one was due.', 'counter', each(ZoneStat.overruns));
  register(registry, 'mmo_zone_players', 'Players in each zone.', 'gauge', each(ZoneStat.players));
  register(registry, 'mmo_zone_npcs', 'NPCs in each zone.', 'gauge', each(ZoneStat.npcs));
  register(registry, 'mmo_zone_inputs_total', 'Inputs a zone applied.', 'counter', each(ZoneStat.inputs));
  register(registry, 'mmo_zone_out_dropped_total', 'Messages a zone could not write because its outbound ring was full: Deltas (the player gets a Snapshot instead), Pongs, and anything still not written after waiting 5 s for the gateway.', 'counter', each(ZoneStat.outDropped));
  register(registry, 'mmo_zone_checkpoints_total', 'Checkpoints written to shared memory.', 'counter', each(ZoneStat.checkpoints));
  register(registry, 'mmo_zone_checkpoint_bytes', 'Size of the last checkpoint.', 'gauge', each(ZoneStat.checkpointBytes));
  register(registry, 'mmo_zone_moves_rejected_total', 'Moves the server refused (speed and teleport hacks, obstacles, bounds, dead).', 'counter', () =>
    zones.hosts.flatMap((h) => MOVE_REJECT_NAMES.slice(1).map((reason, i) => ({ labels: { zone: h.def.id, reason }, value: h.stats[ZoneStat.moveRejects + i + 1]! }))),
  );
  register(registry, 'mmo_zone_world_events_total', 'World events by kind.', 'counter', () =>
    zones.hosts.flatMap((h) => WORLD_EVENTS.map(([event, i]) => ({ labels: { zone: h.def.id, event }, value: h.stats[ZoneStat.worldStats + i]! }))),
  );
  register(registry, 'mmo_zone_content_hook_faults_total', 'Content hook calls that threw (the zone carries on; world.contentMaxConsecutiveErrors in a row crash it for a restart) or overran world.contentHookBudgetMs.', 'counter', () =>
    zones.hosts.flatMap((h) => [
      { labels: { zone: h.def.id, reason: 'threw' }, value: h.stats[ZoneStat.worldStats + WorldStat.hookErrors]! },
      { labels: { zone: h.def.id, reason: 'overran' }, value: h.stats[ZoneStat.worldStats + WorldStat.hookOverruns]! },
    ]),
  );
  register(registry, 'mmo_zone_restarts_total', 'Zone worker restarts after a crash.', 'counter', () => zones.hosts.map((h) => ({ labels: { zone: h.def.id }, value: h.restarts })));
  register(registry, 'mmo_zone_inbound_dropped_total', 'Records the gateway could not give a zone because its inbound ring was full.', 'counter', () =>
    zones.hosts.map((h) => ({ labels: { zone: h.def.id }, value: h.inboundDropped })),
  );
  register(registry, 'mmo_zone_up', '1 when the zone is up.', 'gauge', () => zones.hosts.map((h) => ({ labels: { zone: h.def.id, state: ZONE_STATE_NAMES[h.state] }, value: h.state === ZoneState.up ? 1 : 0 })));
}
