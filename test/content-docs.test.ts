// docs/content.md's example content module, taken from the page as it is and
// played: loaded through loadContent like world.content, its NPC kind,
// abilities, loot and hooks do what the page says. If the page changes, this
// runs the new text; if the API changes under the page, this fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadContent } from '../src/content/load.js';
import { World, Kind, defaultZoneDefs, AttackResult } from '../src/world/index.js';
import { Recorder, playerAt, FREE_MOVE } from './helpers/world.js';
import { tempDir } from './helpers/server.js';

const DOC = fileURLToPath(new URL('../../docs/content.md', import.meta.url));

/** The ```js block right after the `<!-- content-example: NAME -->` marker. */
function example(md: string): { name: string; code: string } {
  const m = /<!-- content-example: ([\w.-]+) -->\s*```js\n([\s\S]*?)\n```/.exec(md);
  assert.ok(m, 'docs/content.md has a marked example');
  return { name: m[1]!, code: m[2]! };
}

class CustomRecorder extends Recorder {
  readonly custom: Array<{ session: number; kind: number; data: number[] }> = [];
  customMessage(session: number, kind: number, bytes: Uint8Array, offset: number, length: number): boolean {
    this.custom.push({ session, kind, data: [...bytes.subarray(offset, offset + length)] });
    return true;
  }
}

test('the example module in docs/content.md loads and plays as the page says', async () => {
  const { name, code } = example(readFileSync(DOC, 'utf8'));
  const dir = tempDir('mmo-content-doc-');
  writeFileSync(join(dir, name), code);
  const loaded = await loadContent(name, dir);
  assert.ok(loaded.module.endsWith(name), 'it has hooks, so the zone workers would import it');

  const d = defaultZoneDefs(1, { npcsPerZone: 0, content: loaded.content })[0]!;
  const rec = new CustomRecorder();
  const w = new World({ ...d, obstacles: [], movement: { ...FREE_MOVE } }, rec, 0, { hooks: loaded.content.hooks });
  rec.world = w;
  const st = w.store;
  const dummies: number[] = [];
  for (let s = 0; s < st.highWater; s++) if (st.kind[s] === Kind.npc) dummies.push(s);
  assert.equal(dummies.length, 4, 'four dummies');
  for (const s of dummies) {
    assert.equal(st.names[s], 'Training Dummy');
    assert.equal(st.maxHp[s], 50);
    assert.ok(st.x[s]! >= 500 && st.x[s]! <= 524 && st.y[s]! >= 500 && st.y[s]! <= 524);
  }
  const dummy = dummies[0]!;

  // A player punches a dummy to death (15 +-20 % a punch, 800 ms apart, reach 2): a coin from onDeath, straw on the ground.
  const p = w.addPlayer(3, playerAt('ann', st.x[dummy]! + 1.5, st.y[dummy]!), 0);
  const ps = w.playerSlot(p);
  let t = 0;
  let punches = 0;
  while ((st.flags[dummy]! & 1) === 0 && t < 20_000) {
    t += 50;
    if (st.x[ps] !== st.x[dummy]! + 1.5 || st.y[ps] !== st.y[dummy]) w.applyMove(p, 0, st.x[dummy]! + 1.5, st.y[dummy]!, t);
    const r = w.applyAttack(p, st.id[dummy]!, t);
    if (r === AttackResult.ok) punches++;
    else assert.equal(r, AttackResult.cooldown);
    w.tick(t, rec);
  }
  assert.ok((st.flags[dummy]! & 1) !== 0, 'the dummy died');
  assert.ok(punches >= 3 && punches <= 5, `50 HP at 12..18 a punch: ${punches} punches`);
  const hits = rec.deltas.flatMap((x) => x.damages);
  assert.ok(hits.filter((h) => h.target === p).every((h) => h.amount === 3), 'the dummy whacks back for exactly 3');
  const coins = rec.events.filter((e) => e.type === 'itemGained' && e.item === 100);
  assert.equal(coins.length, 1, 'one Gold Coin from onDeath');
  let straw = 0;
  for (let s = 0; s < st.highWater; s++) if (st.kind[s] === Kind.loot && st.invItem[s * 16] === 101) straw += st.invCount[s * 16]!;
  assert.ok(straw >= 1 && straw <= 3, `straw on the ground: ${straw}`);

  // The custom input: kind 1 heals by 25 and answers kind 2 with the HP as u16 little-endian; other kinds are refused.
  const before = st.hp[ps]!;
  assert.ok(before < st.maxHp[ps]!, 'the whacks hurt');
  assert.equal(w.content!.input(ps, 1, new Uint8Array(0), 0, 0), true);
  const healed = rec.custom.at(-1)!;
  assert.equal(healed.kind, 2);
  assert.equal(healed.session, 3);
  const hp = healed.data[0]! | (healed.data[1]! << 8);
  assert.equal(hp, Math.min(st.maxHp[ps]!, before + 25));
  assert.equal(st.hp[ps], hp);
  assert.equal(w.content!.input(ps, 9, new Uint8Array(0), 0, 0), false, 'kind 9 refused');
});
