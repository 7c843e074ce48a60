// A scripted player for tests: it knows where it really is (the client moves
// it, the server may snap it back or respawn it), walks in bounded steps, and
// hunts NPCs and loots what they drop.

import { connect, InteractAction, EntityKind, type MmoClient, type ConnectOptions } from '../../src/client/index.js';

export interface Me {
  c: MmoClient;
  x: number;
  y: number;
  /** Units per second the server allows (world.movement.maxSpeed). */
  speed: number;
  /** Every position the player held and when (ms): what a save may legitimately contain. */
  trail: Array<{ t: number; x: number; y: number }>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Connects and waits for the first snapshot. */
export async function enter(url: string, opts: ConnectOptions, speed: number): Promise<Me> {
  const c = connect(url, opts);
  await c.once('snapshot');
  const me: Me = { c, x: c.self!.x, y: c.self!.y, speed, trail: [] };
  const at = (x: number, y: number) => {
    me.x = x;
    me.y = y;
    me.trail.push({ t: Date.now(), x, y });
  };
  at(me.x, me.y);
  c.on('moveRejected', (m) => at(m.x, m.y));
  c.on('respawn', (r) => at(r.x, r.y));
  return me;
}

/** One step (at most speed/10 units: a step every 100 ms) toward (tx, ty); true when within stopAt. */
export function stepToward(me: Me, tx: number, ty: number, stopAt: number): boolean {
  const dx = tx - me.x;
  const dy = ty - me.y;
  const d = Math.hypot(dx, dy);
  if (d <= stopAt) return true;
  const step = Math.min(me.speed / 10, d - stopAt);
  me.x += (dx / d) * step;
  me.y += (dy / d) * step;
  me.trail.push({ t: Date.now(), x: me.x, y: me.y });
  me.c.move(me.x, me.y);
  return false;
}

/** 100 ms of play: loot what lies near, else walk to the nearest live NPC and hit it. */
export function huntStep(me: Me, home: { x: number; y: number }): void {
  let target: { id: number; x: number; y: number; kind: number } | null = null;
  let best = Infinity;
  for (const e of me.c.entities.values()) {
    if ((e.kind !== EntityKind.Npc && e.kind !== EntityKind.Loot) || (e.flags & 1) !== 0) continue;
    const d = Math.hypot(e.x - me.x, e.y - me.y) - (e.kind === EntityKind.Loot ? 30 : 0); // loot first
    if (d < best) {
      best = d;
      target = e;
    }
  }
  if (!target) stepToward(me, home.x, home.y, 1);
  else if (stepToward(me, target.x, target.y, 2)) {
    if (target.kind === EntityKind.Loot) me.c.interact(target.id, InteractAction.Loot);
    else me.c.attack(target.id);
  }
}

/** Hunts until done(), failing after ms. */
export async function hunt(me: Me, home: { x: number; y: number }, done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`hunting did not reach its goal in ${ms} ms`);
    huntStep(me, home);
    await sleep(100);
  }
}

/** Ten steps toward (tx, ty) (a wall may stop some), then still until the server has it. */
export async function walkAndStop(me: Me, tx: number, ty: number): Promise<void> {
  for (let i = 0; i < 10; i++) {
    stepToward(me, tx, ty, 0.01);
    await sleep(100);
  }
  await sleep(600);
}
