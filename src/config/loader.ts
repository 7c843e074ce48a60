// Configuration loading: embedded defaults, then a YAML file, then
// environment variables MMO_<SECTION>__<KEY>, then CLI flags --section.key=value.
// Each layer may only name keys the schema knows; a typo is an error with a
// suggestion, not a silently ignored setting. Cold path, start-up only.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigSchema, leafKeys, isObjectSchema, type Config } from './schema.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { startupIssues } from './validate.js';

export interface CliFlags {
  help: boolean;
  version: boolean;
  checkConfig: boolean;
  printConfig: boolean;
}

export interface LoadedConfig {
  config: Config;
  /** Where the values came from, in order of precedence, for the start-up line. */
  sources: string[];
  /** Absolute path of the config file, when one was read. */
  file: string | undefined;
  flags: CliFlags;
}

export interface LoadOptions {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const LEAVES = leafKeys();
const LEAF_BY_PATH = new Map(LEAVES.map((l) => [l.path, l.schema]));

/** Environment variable name of a dotted key: net.maxPayloadLength -> MMO_NET__MAX_PAYLOAD_LENGTH. */
export function envName(path: string): string {
  return (
    'MMO_' +
    path
      .split('.')
      .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('__')
  );
}

const PATH_BY_ENV = new Map(LEAVES.map((l) => [envName(l.path), l.path]));

/** The configuration with every key at its default. */
export function defaultConfig(): Config {
  const out: Record<string, unknown> = {};
  for (const { path, schema } of LEAVES) setPath(out, path, structuredClone(schema.default));
  return out as Config;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const argv = opts.argv ?? process.argv.slice(2);
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();

  const cli = parseCli(argv);
  const config = defaultConfig() as unknown as Record<string, unknown>;
  const origin = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  const sources = ['defaults'];

  const filePath = cli.configFile ?? env.MMO_CONFIG;
  let file: string | undefined;
  if (filePath) {
    file = resolve(cwd, filePath);
    const doc = readConfigFile(file);
    const before = issues.length;
    mergeFile(doc, '', config, origin, `file ${file}`, issues);
    if (issues.length === before) sources.push(`file ${file}`);
  }

  const envKeys: string[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('MMO_') || !name.includes('__') || raw === undefined) continue;
    const path = PATH_BY_ENV.get(name);
    if (!path) {
      issues.push({
        key: name,
        value: raw,
        source: 'environment',
        allowed: `no such setting${suggest(name, [...PATH_BY_ENV.keys()])}`,
      });
      continue;
    }
    setLeaf(config, origin, path, coerce(raw, LEAF_BY_PATH.get(path)!), `env ${name}`);
    envKeys.push(name);
  }
  if (envKeys.length) sources.push(`env ${envKeys.sort().join(',')}`);

  for (const [path, raw] of cli.overrides) {
    setLeaf(config, origin, path, coerce(raw, LEAF_BY_PATH.get(path)!), `cli --${path}`);
  }
  if (cli.overrides.length) sources.push(`cli ${cli.overrides.map(([p]) => `--${p}`).join(',')}`);

  for (const { path, schema } of LEAVES) {
    const value = getPath(config, path);
    if (!Value.Check(schema, value)) {
      issues.push({ key: path, value, source: origin.get(path) ?? 'defaults', allowed: describeAllowed(schema) });
    }
  }
  if (issues.length) throw new ConfigError(issues);
  // Belt and braces: the leaf checks above cover the schema, this catches a schema bug.
  if (!Value.Check(ConfigSchema, config)) {
    const first = Value.Errors(ConfigSchema, config).First();
    throw new ConfigError([], `configuration rejected by schema at ${first?.path}: ${first?.message}`);
  }
  // Checks across keys, the same ones startServer makes: --check-config must refuse what start-up would.
  const late = startupIssues(config as unknown as Config, (key) => origin.get(key) ?? 'defaults').issues;
  if (late.length) throw new ConfigError(late);
  return { config: config as unknown as Config, sources, file, flags: cli.flags };
}

/** Human text for what a schema accepts: "an integer from 0 to 65535". Cold path. */
export function describeAllowed(s: TSchema): string {
  if (Array.isArray(s.anyOf)) {
    const members = s.anyOf as TSchema[];
    if (members.every((m) => m.const !== undefined)) {
      return `one of ${members.map((m) => JSON.stringify(m.const)).join(', ')}`;
    }
    return members.map(describeAllowed).join(' or ');
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  switch (s.type) {
    case 'integer':
    case 'number': {
      const kind = s.type === 'integer' ? 'an integer' : 'a number';
      if (s.minimum !== undefined && s.maximum !== undefined) return `${kind} from ${s.minimum} to ${s.maximum}`;
      if (s.minimum !== undefined) return `${kind} of at least ${s.minimum}`;
      if (s.maximum !== undefined) return `${kind} of at most ${s.maximum}`;
      return kind;
    }
    case 'boolean':
      return 'true or false';
    case 'string': {
      const parts = ['a string'];
      if (s.minLength !== undefined && s.maxLength !== undefined) parts.push(`of ${s.minLength} to ${s.maxLength} characters`);
      else if (s.minLength !== undefined) parts.push(`of at least ${s.minLength} character${s.minLength === 1 ? '' : 's'}`);
      if (s.pattern !== undefined) parts.push(`matching /${s.pattern}/`);
      return parts.join(' ');
    }
    case 'array': {
      const items = s.items as TSchema | undefined;
      const bounds =
        s.minItems !== undefined || s.maxItems !== undefined
          ? ` (${s.minItems ?? 0} to ${s.maxItems ?? 'any number of'} items)`
          : '';
      return `a list${bounds}${items ? ` of ${describeAllowed(items)}` : ''}`;
    }
    case 'object': {
      // A record (patternProperties) is a leaf: describe its keys and values.
      const [entry] = Object.entries((s.patternProperties ?? {}) as Record<string, TSchema>);
      return entry ? `a mapping of keys matching /${entry[0]}/ to ${describeAllowed(entry[1])}` : 'a mapping';
    }
    default:
      return String(s.type ?? 'a valid value');
  }
}

interface ParsedCli {
  configFile: string | undefined;
  flags: CliFlags;
  overrides: Array<[string, string]>;
}

function parseCli(argv: readonly string[]): ParsedCli {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
    'check-config': { type: 'boolean' },
    'print-config': { type: 'boolean' },
  };
  for (const { path } of LEAVES) options[path] = { type: 'string' };
  // Unknown --keys first, each with its value and a suggestion, as the file and env layers report them.
  const unknown: ConfigIssue[] = [];
  const names = [...LEAF_BY_PATH.keys(), 'config', 'help', 'version', 'check-config', 'print-config'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const known = options[name];
    if (known) {
      if (known.type === 'string' && eq < 0) i++; // its value is the next argument
      continue;
    }
    const next = argv[i + 1];
    const value = eq >= 0 ? arg.slice(eq + 1) : next !== undefined && !next.startsWith('-') ? argv[++i] : undefined;
    unknown.push({ key: `--${name}`, value, source: 'command line', allowed: `no such option${suggest(name, names).replace('mean ', 'mean --')}` });
  }
  if (unknown.length) throw new ConfigError(unknown);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (err) {
    // What is left: a positional argument, a missing value, a value given to a flag.
    const msg = (err as Error).message.split('\n')[0]!;
    const flag = /'(-{1,2}[^' ]+)/.exec(msg)?.[1] ?? '(arguments)';
    throw new ConfigError([{ key: flag, value: undefined, source: 'command line', allowed: `${msg.replace(/\.$/, '')}; see --help` }]);
  }
  const overrides: Array<[string, string]> = [];
  for (const { path } of LEAVES) {
    const v = values[path];
    if (typeof v === 'string') overrides.push([path, v]);
  }
  return {
    configFile: values.config as string | undefined,
    flags: {
      help: values.help === true,
      version: values.version === true,
      checkConfig: values['check-config'] === true,
      printConfig: values['print-config'] === true,
    },
    overrides,
  };
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([], `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true }) ?? {};
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError([], `config file ${file} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
}

function mergeFile(
  doc: unknown,
  prefix: string,
  into: Record<string, unknown>,
  origin: Map<string, string>,
  source: string,
  issues: ConfigIssue[],
): void {
  const schema = prefix ? findSchema(prefix) : ConfigSchema;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    issues.push({ key: prefix || '(root)', value: doc, source, allowed: 'a mapping of keys' });
    return;
  }
  for (const [key, value] of Object.entries(doc)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const sub = schema && isObjectSchema(schema) ? schema.properties[key] : undefined;
    if (!sub) {
      const siblings = schema && isObjectSchema(schema) ? Object.keys(schema.properties).map((k) => (prefix ? `${prefix}.${k}` : k)) : [];
      issues.push({ key: path, value, source, allowed: `no such setting${suggest(path, siblings)}` });
    } else if (isObjectSchema(sub)) {
      mergeFile(value, path, into, origin, source, issues);
    } else {
      setLeaf(into, origin, path, value, source);
    }
  }
}

function findSchema(path: string): TSchema | undefined {
  let s: TSchema | undefined = ConfigSchema;
  for (const part of path.split('.')) {
    s = s && isObjectSchema(s) ? s.properties[part] : undefined;
  }
  return s;
}

function setLeaf(into: Record<string, unknown>, origin: Map<string, string>, path: string, value: unknown, source: string) {
  setPath(into, path, value);
  origin.set(path, source);
}

/** Strings from env and CLI become the schema's type when they spell one; otherwise they stay strings and fail validation with their own text. */
function coerce(raw: string, schema: TSchema): unknown {
  const types = Array.isArray(schema.anyOf) ? (schema.anyOf as TSchema[]).map((m) => (m.const !== undefined ? typeof m.const : m.type)) : [schema.type];
  const t = raw.trim();
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if (types.includes('boolean')) {
    if (/^(true|1|yes|on)$/i.test(t)) return true;
    if (/^(false|0|no|off)$/i.test(t)) return false;
  }
  if (types.includes('array') || types.includes('object')) {
    if (t.startsWith('[') || t.startsWith('{')) {
      try {
        return JSON.parse(t);
      } catch {
        return raw;
      }
    }
    if (types.includes('array')) return t === '' ? [] : t.split(',').map((x) => coerce(x, (schema.items as TSchema) ?? {}));
  }
  return raw;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const p of path.split('.')) cur = (cur as Record<string, unknown> | undefined)?.[p];
  return cur;
}

/** " (did you mean net.port?)" when a known name is within a small edit distance. */
function suggest(name: string, known: string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  const n = name.toLowerCase();
  for (const k of known) {
    const d = editDistance(n, k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(n.length / 4)) ? ` (did you mean ${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
