// Renders a configuration as YAML. With comments, every key carries its
// description, default and allowed values taken from the schema: this is how
// config/default.yaml is produced (npm run gen:config), and a test checks the
// committed file against it. Cold path.

import type { TObject, TSchema } from '@sinclair/typebox';
import { stringify } from 'yaml';
import { ConfigSchema, isObjectSchema, type Config } from './schema.js';
import { describeAllowed, envName } from './loader.js';

export function renderConfigYaml(config: Config, opts: { comments: boolean }): string {
  if (!opts.comments) return stringify(redactSecrets(config), { lineWidth: 0 });
  const lines: string[] = [
    '# mmo-server configuration reference.',
    '#',
    '# Generated from src/config/schema.ts by `npm run gen:config`; do not edit by hand.',
    '# Every value shown is the embedded default: the server needs no config file.',
    '# Precedence: defaults < this file (--config FILE or MMO_CONFIG) < environment',
    '# MMO_<SECTION>__<KEY> < command line --section.key=value.',
    '',
  ];
  renderObject(ConfigSchema, config as unknown as Record<string, unknown>, '', 0, lines);
  return lines.join('\n').replace(/\n+$/, '\n');
}

/** The admin token is a credential: --print-config says whether it is set, never what it is. */
function redactSecrets(config: Config): Config {
  if (!config.admin?.token) return config;
  return { ...config, admin: { ...config.admin, token: '<set: redacted>' } };
}

function renderObject(schema: TObject, value: Record<string, unknown>, prefix: string, depth: number, out: string[]) {
  const pad = '  '.repeat(depth);
  for (const [key, sub] of Object.entries(schema.properties)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const v = value[key];
    if (isObjectSchema(sub)) {
      if (sub.description) out.push(`${pad}# ${sub.description}`);
      out.push(`${pad}${key}:`);
      renderObject(sub, v as Record<string, unknown>, path, depth + 1, out);
      out.push('');
      continue;
    }
    for (const line of wrap(sub.description ?? '', 76 - pad.length)) out.push(`${pad}# ${line}`);
    out.push(`${pad}# default: ${inline(sub.default)}; allowed: ${describeAllowed(sub as TSchema)}; env: ${envName(path)}`);
    const rendered = stringify({ [key]: v }, { lineWidth: 0 }).trimEnd().split('\n');
    for (const r of rendered) out.push(`${pad}${r}`);
  }
}

function inline(v: unknown): string {
  return JSON.stringify(v);
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
