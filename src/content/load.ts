// Loading a content module (world.content): on the main thread at start-up
// (and --check-config), where its definitions are validated and compiled
// into the zone definitions; and in each zone worker, which imports the same
// file again for its hooks (functions do not cross threads).
//
// A module that cannot be found, fails to import, or exports invalid
// definitions throws WorldError(MMO_ERR_CONTENT) naming the file and every
// problem; start-up turns it into exit 2.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorldError, WorldErrorCode, validateContent, type Content, type ContentHooks } from '../world/index.js';
import { REFERENCE_CONTENT } from './reference.js';

export interface LoadedContent {
  content: Content;
  /** file: URL the zone workers import for the hooks; '' when there are none to run (the reference game). */
  module: string;
  /** What world.content said, resolved: a path, or 'built-in reference'. */
  source: string;
}

/** import() of a file: the standalone binary's main thread needs its own (src/sea/entry.ts sets it). */
const importFile = (url: string): Promise<unknown> => globalThis.__mmoImport?.(url) ?? import(url);

/** Loads and validates world.content ('' = the built-in reference game). Relative paths are from `cwd`. Cold path. */
export async function loadContent(spec: string, cwd = process.cwd()): Promise<LoadedContent> {
  if (spec === '') return { content: REFERENCE_CONTENT, module: '', source: 'built-in reference' };
  const file = resolve(cwd, spec);
  if (!existsSync(file)) throw new WorldError(WorldErrorCode.content, `world.content: no such file ${file}`);
  const url = pathToFileURL(file).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await importFile(url)) as Record<string, unknown>;
  } catch (err) {
    throw Object.assign(new WorldError(WorldErrorCode.content, `world.content: ${file} failed to load: ${(err as Error)?.message ?? String(err)}`), { cause: err });
  }
  const content = mod.default;
  validateContent(content, `content module ${file}`);
  const hooks = content.hooks;
  return { content, module: hooks && Object.keys(hooks).length > 0 ? url : '', source: file };
}

/** The hooks of an already validated content module (zone worker side). Cold path. */
export async function loadContentHooks(moduleUrl: string): Promise<ContentHooks | undefined> {
  if (moduleUrl === '') return undefined;
  const mod = (await importFile(moduleUrl)) as { default?: Content };
  return mod.default?.hooks;
}
