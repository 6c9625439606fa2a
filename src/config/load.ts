// Loading the runner config: YAML from the runner host, validated, with errors that name the key and value.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { dataDirProblem } from './data-dir.ts';
import { ConfigError } from './errors.ts';
import { configSchema, type RunnerConfig } from './schema.ts';

export interface LoadedConfig {
  file: string;
  config: RunnerConfig;
  /** sha256 of the file bytes: goes into every run's fingerprint. */
  hash: string;
}

/** The commented starting point shipped with Airlock, wherever it is installed. */
export const EXAMPLE_CONFIG = fileURLToPath(new URL('../../runners/example.yaml', import.meta.url));

/** Read, parse and validate a runner config file; relative paths in it resolve against its directory. */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError(file, ['the file does not exist'], err, `Start from the commented example: \`cp ${EXAMPLE_CONFIG} ${file}\`, edit it, then run \`airlock doctor --config ${file}\`. Or pass --config FILE (or set $AIRLOCK_CONFIG).`);
    }
    throw new ConfigError(file, [`cannot be read (${code ?? String(err)})`], err);
  }
  const config = parseConfigText(text, file);
  const configured = config.runner.dataDir;
  config.runner.dataDir = path.resolve(path.dirname(file), configured);
  const problem = await dataDirProblem(config.runner.dataDir);
  if (problem) throw new ConfigError(file, [`\`runner.dataDir\` ${problem}, got \`${showValue(configured)}\``], undefined, `Set \`runner.dataDir\` in ${file} to a directory on a real disk, such as /var/lib/airlock.`);
  return { file, config, hash: createHash('sha256').update(text).digest('hex') };
}

/** Parse and validate config text; `file` is only used in messages. */
export function parseConfigText(text: string, file: string): RunnerConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, result.error.issues.map((issue) => describeIssue(issue, raw)));
  return result.data;
}

/** Render one validation problem as "`a.b[0].c` must …, got `value`". */
export function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const key = formatKeyPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const where = key ? ` in \`${key}\`` : ' at the top level';
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')}${where} (check the spelling; runners/airlock.schema.json lists every key)`;
  }
  const value = valueAt(raw, issue.path);
  if (value === undefined) return `\`${key}\` is required: ${issue.message}`;
  // A value that looks like a credential is never echoed: the error reaches terminals and logs.
  if (issue.code === 'custom' && (issue.params as { secret?: boolean } | undefined)?.secret) return `\`${key}\` ${normaliseMessage(issue.message)} (the value is not shown)`;
  return `\`${key}\` ${normaliseMessage(issue.message)}, got \`${showValue(value)}\``;
}

function normaliseMessage(message: string): string {
  if (/^must /.test(message)) return message;
  const option = /^Invalid option: expected one of (.*)$/.exec(message);
  if (option) return `must be one of ${option[1]!.split('|').join(', ')}`;
  // zod's own messages read "Invalid input: expected string, received number"
  return `is invalid (${message.replace(/^Invalid input: /, '')})`;
}

function formatKeyPath(segments: PropertyKey[]): string {
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join('');
}

function valueAt(raw: unknown, segments: PropertyKey[]): unknown {
  let node: unknown = raw;
  for (const s of segments) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[s];
  }
  return node;
}

function showValue(value: unknown): string {
  // A URL's user:password part is never echoed: a password pasted into the YAML must not reach a terminal or log.
  const text = (JSON.stringify(value) ?? String(value)).replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s"]*@/gi, '$1***@');
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
