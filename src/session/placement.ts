// Which zone a new player enters: a guest, a first login, or a character
// whose zone is down. A single process (and cluster.newPlayers `spread`)
// takes the emptiest zone that is up, wherever it runs. In a cluster, `local`
// prefers the zones this node runs: a player in one of them costs no NATS
// record in either direction (its inputs and updates go straight between
// this node's gateway and zone worker), while a player in another node's
// zone has each of them cross two processes. Falls back to the emptiest up
// zone anywhere when no local zone is up. Loads are the gateway's own
// players per zone (the session layer's count). Allocates nothing.

/** What the rule needs of a zone set (ZoneSet has both). */
export interface PlacementZones {
  readonly hosts: ReadonlyArray<{ readonly local: boolean }>;
  isUp(index: number): boolean;
}

/** Index of the emptiest up zone (local ones first when `localFirst`), -1 when none is up. Ties go to the lowest index. */
export function placeNewPlayer(zones: PlacementZones, load: ArrayLike<number>, localFirst: boolean): number {
  let best = -1;
  let bestLocal = -1;
  const hosts = zones.hosts;
  for (let i = 0; i < hosts.length; i++) {
    if (!zones.isUp(i)) continue;
    const l = load[i] ?? 0;
    if (best < 0 || l < (load[best] ?? 0)) best = i;
    if (localFirst && hosts[i]!.local && (bestLocal < 0 || l < (load[bestLocal] ?? 0))) bestLocal = i;
  }
  return bestLocal >= 0 ? bestLocal : best;
}
