// Measures the load for the degradation controller and carries out its
// steps: the gateway's event-loop lateness (the metrics sampler), its event-loop
// utilization (how busy its thread is), and each zone's mean tick time from the
// zone's shared stats; shedding goes to admission, view settings to each zone
// as a ToZone.aoiLoad record. Counted in /metrics as mmo_degrade_*.

import type { Registry } from 'prom-client';
import type { DegradeConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { MetricsRuntime } from '../metrics/registry.js';
import { PullGauge } from '../metrics/hot.js';
import type { Admission } from '../session/admission.js';
import type { ZoneSet } from '../zone/host.js';
import { ToZone, AoiLoadRecord } from '../zone/records.js';
import { ZoneStat } from '../zone/shared.js';
import { DEGRADE_STEP_NAMES, DegradeController, type LoadSample } from './degrade.js';

export interface DegradeRuntime {
  readonly controller: DegradeController;
  stop(): void;
}

export interface DegradeDeps {
  cfg: DegradeConfig;
  metrics: MetricsRuntime;
  registry: Registry;
  zones: ZoneSet;
  admission: Admission;
  tickHz: number;
  log: Logger;
}

/** Starts judging the load every degrade.sampleMs; null when degrade.enabled is off. */
export function startDegrade(d: DegradeDeps): DegradeRuntime | null {
  const { cfg, zones } = d;
  if (!cfg.enabled) return null;
  const n = zones.count;
  const payload = new Uint8Array(AoiLoadRecord.size);
  const controller = new DegradeController(
    cfg,
    n,
    {
      shed: (on) => d.admission.setShedding(on ? { loginReserve: cfg.shedLoginReserve, abuserWindowMs: cfg.abuserWindowMs } : null),
      zoneAoi: (zone, updateTicks, visibleCap) => {
        AoiLoadRecord.write(payload, 0, updateTicks, visibleCap);
        zones.hosts[zone]?.send(ToZone.aoiLoad, 0, payload);
      },
    },
    d.log,
  );

  // Loop lateness: counted as it is sampled (no array of samples to sort).
  const warmMs = cfg.loopLagMs * cfg.restoreRatio;
  let loopSamples = 0;
  let loopOver = 0;
  let loopWarm = 0;
  let loopMax = 0;
  let running = true;
  d.metrics.onLoopSample((lateMs) => {
    if (!running) return;
    loopSamples++;
    if (lateMs >= cfg.loopLagMs) loopOver++;
    if (lateMs >= warmMs) loopWarm++;
    if (lateMs > loopMax) loopMax = lateMs;
  });

  const sample: LoadSample = {
    loopSamples: 0,
    loopOver: 0,
    loopWarm: 0,
    loopMaxMs: 0,
    gatewayBusy: 0,
    zoneTickShare: new Float64Array(n),
    zonePlayers: new Float64Array(n),
  };
  const lastTicks = new Float64Array(n);
  const lastTickSec = new Float64Array(n);
  for (let z = 0; z < n; z++) {
    const st = zones.hosts[z]!.stats;
    lastTicks[z] = st[ZoneStat.ticks]!;
    lastTickSec[z] = st[ZoneStat.tickSecondsSum]!;
  }
  const periodSec = 1 / d.tickHz;
  let elu = performance.eventLoopUtilization();

  const timer = setInterval(() => {
    // cold path: once per degrade.sampleMs
    const now = performance.now();
    const e = performance.eventLoopUtilization();
    sample.gatewayBusy = performance.eventLoopUtilization(e, elu).utilization;
    elu = e;
    sample.loopSamples = loopSamples;
    sample.loopOver = loopOver;
    sample.loopWarm = loopWarm;
    sample.loopMaxMs = loopMax;
    loopSamples = loopOver = loopWarm = loopMax = 0;
    for (let z = 0; z < n; z++) {
      const st = zones.hosts[z]!.stats;
      const ticks = st[ZoneStat.ticks]!;
      const sec = st[ZoneStat.tickSecondsSum]!;
      const dt = ticks - lastTicks[z]!;
      // A restarted zone starts its stats again: no reading this period.
      sample.zoneTickShare[z] = dt > 0 ? (sec - lastTickSec[z]!) / dt / periodSec : NaN;
      sample.zonePlayers[z] = st[ZoneStat.players]!;
      lastTicks[z] = ticks;
      lastTickSec[z] = sec;
    }
    controller.evaluate(sample, now);
  }, cfg.sampleMs);
  timer.unref();

  new PullGauge(d.registry, 'mmo_degrade_level', 'Adaptive degradation level: 0 normal, 1 shedding, 2.. reduce steps of the busiest zones.', () => controller.level);
  new PullGauge(d.registry, 'mmo_degrade_zones_reduced', 'Zones whose update rate and visible cap are lowered now.', () => controller.reducedZones);
  new PullGauge(d.registry, 'mmo_degrade_steps_total', 'Degradation steps taken, by step and direction.', () => [
    ...DEGRADE_STEP_NAMES.slice(0, controller.maxLevel).map((step, i) => ({ labels: { step, direction: 'up' }, value: controller.stepsUp[i]! })),
    ...DEGRADE_STEP_NAMES.slice(0, controller.maxLevel).map((step, i) => ({ labels: { step, direction: 'down' }, value: controller.stepsDown[i]! })),
  ]);

  return {
    controller,
    stop: () => {
      running = false;
      clearInterval(timer);
    },
  };
}
