// Writes realistic, large `show -json` plans as a stream, for the reader's tests and for benchmarks
// (10k/100k/500k changes, up to ~1 GB). The shape follows reference/protocols.md and the real Terraform
// fixtures in test/plan/fixtures/: values appear in planned_values, resource_changes (before/after),
// prior_state and configuration, as they do in real output.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export type SyntheticAction = 'create' | 'update' | 'delete' | 'replace' | 'forget' | 'read' | 'noop';

export interface SyntheticPlanOptions {
  changes: number;
  /** Relative weights; the default is mostly creates and updates with some deletes, replaces, reads, no-ops. */
  actionsMix?: Partial<Record<SyntheticAction, number>>;
  /** Size of the large string attribute in each before/after value (default 200). */
  valueBytes?: number;
  /** Placed in variables, before, after, planned_values and prior_state; must never reach a summary. */
  canary?: string;
  /** Spell replaces and forgets as OpenTofu does (["forget","create"]) or as Terraform does. */
  engine?: 'terraform' | 'opentofu';
  errored?: boolean;
  seed?: number;
  /** Indent with two spaces, as `jq .` would; the engines write compact JSON. */
  pretty?: boolean;
}

export interface SyntheticPlanResult {
  bytes: number;
  counts: Record<SyntheticAction, number>;
}

const DEFAULT_MIX: Record<SyntheticAction, number> = {
  create: 40,
  update: 30,
  delete: 5,
  replace: 5,
  forget: 1,
  read: 5,
  noop: 14,
};

const FLUSH_CHARS = 1 << 20;

/** Write a synthetic plan JSON file of `changes` resource changes; resolves with its size and true counts. */
export async function writeSyntheticPlan(path: string, opts: SyntheticPlanOptions): Promise<SyntheticPlanResult> {
  // Given a mix, the actions it leaves out do not occur.
  const mix = opts.actionsMix
    ? (Object.fromEntries(Object.keys(DEFAULT_MIX).map((k) => [k, opts.actionsMix![k as SyntheticAction] ?? 0])) as Record<SyntheticAction, number>)
    : DEFAULT_MIX;
  const valueBytes = opts.valueBytes ?? 200;
  const canary = opts.canary ?? '';
  const random = mulberry32(opts.seed ?? 1);
  const weights = Object.entries(mix) as Array<[SyntheticAction, number]>;
  const weightSum = weights.reduce((s, [, w]) => s + w, 0);
  if (weightSum <= 0) throw new RangeError('actionsMix needs at least one positive weight');
  const counts: Record<SyntheticAction, number> = { create: 0, update: 0, delete: 0, replace: 0, forget: 0, read: 0, noop: 0 };
  const plan: Array<{ action: SyntheticAction; address: string; mode: 'managed' | 'data'; type: string; name: string; key: string }> = [];
  for (let i = 0; i < opts.changes; i++) {
    let pick = random() * weightSum;
    let action: SyntheticAction = weights[0]![0];
    for (const [a, w] of weights) {
      if (pick < w) {
        action = a;
        break;
      }
      pick -= w;
    }
    counts[action] += 1;
    const mode = action === 'read' ? 'data' : 'managed';
    const type = TYPES[i % TYPES.length]!;
    const name = `r${Math.floor(i / 100)}`;
    const key = `k-${i}`;
    const address = `${mode === 'data' ? 'data.' : ''}${i % 7 === 0 ? `module.m${i % 13}.` : ''}${type}.${name}["${key}"]`;
    plan.push({ action, address, mode, type, name, key });
  }

  const out = createWriteStream(path);
  let buffered = '';
  let bytes = 0;
  const write = async (s: string): Promise<void> => {
    buffered += s;
    if (buffered.length >= FLUSH_CHARS) await flush();
  };
  const flush = async (): Promise<void> => {
    if (buffered === '') return;
    const chunk = Buffer.from(buffered, 'utf8');
    bytes += chunk.length;
    buffered = '';
    if (!out.write(chunk)) await once(out, 'drain');
  };
  const j = opts.pretty ? (v: unknown) => JSON.stringify(v, null, 2) : (v: unknown) => JSON.stringify(v);
  const sep = opts.pretty ? ',\n' : ',';

  const blob = (i: number, side: string): string => {
    // Escapes, quotes, backslashes, non-ASCII and JSON-looking text inside strings, as real values have.
    const base = `${side}-${i} "quoted" back\\slash\\\\ tab\t nl\n ü € 😀 {"address":"evil","actions":["delete"]} ] } ${canary} `;
    let s = '';
    while (s.length < valueBytes) s += base;
    return s.slice(0, valueBytes);
  };
  const values = (i: number, side: string) => ({
    id: `id-${i}`,
    name: `name-${i}`,
    arn: `arn:aws:svc:eu-west-1:123456789012:thing/${i}`,
    secret: canary === '' ? `s3cr3t-${i}` : canary,
    tags: { env: 'prod', owner: `team-${i % 17}`, note: canary },
    numbers: [i, -i, i * 0.5, 1e21, 0],
    flags: { on: true, off: false, none: null },
    payload: blob(i, side),
  });

  await write(`{"format_version":"1.2","terraform_version":${j(opts.engine === 'opentofu' ? '1.9.0' : '1.11.4')}`);
  await write(`${sep}"variables":${j({ region: { value: 'eu-west-1' }, db_password: { value: canary || 'hunter2' } })}`);

  await write(`${sep}"planned_values":{"root_module":{"resources":[`);
  for (let i = 0; i < plan.length; i++) {
    const p = plan[i]!;
    await write(
      (i === 0 ? '' : sep) +
        j({ address: p.address, mode: p.mode, type: p.type, name: p.name, index: p.key, provider_name: 'registry.terraform.io/hashicorp/aws', schema_version: 0, values: values(i, 'planned'), sensitive_values: { secret: true } }),
    );
  }
  await write(']}}');

  if (plan.length > 0) {
    await write(`${sep}"resource_changes":[`);
    for (let i = 0; i < plan.length; i++) {
      const p = plan[i]!;
      const before = p.action === 'create' || p.action === 'read' ? null : values(i, 'before');
      const after = p.action === 'delete' || p.action === 'forget' ? null : values(i, 'after');
      const entry: Record<string, unknown> = {
        address: p.address,
        mode: p.mode,
        type: p.type,
        name: p.name,
        index: p.key,
        provider_name: 'registry.terraform.io/hashicorp/aws',
        change: {
          actions: actionsFor(p.action, opts.engine ?? 'terraform', i),
          before,
          after,
          after_unknown: after === null ? false : { id: p.action !== 'update' },
          before_sensitive: before === null ? false : { secret: true },
          after_sensitive: after === null ? false : { secret: true },
          ...(p.action === 'replace' ? { replace_paths: [['name']] } : {}),
        },
        ...(p.action === 'replace' ? { action_reason: 'replace_because_cannot_update' } : {}),
      };
      await write((i === 0 ? '' : sep) + j(entry));
    }
    await write(']');
  }

  await write(`${sep}"output_changes":${j({ endpoint: { actions: ['update'], before: canary, after: 'x', after_unknown: false, before_sensitive: false, after_sensitive: false } })}`);
  await write(`${sep}"prior_state":{"format_version":"1.0","terraform_version":"1.11.4","values":{"root_module":{"resources":[`);
  let first = true;
  for (let i = 0; i < plan.length; i++) {
    const p = plan[i]!;
    if (p.action === 'create' || p.action === 'read') continue;
    await write((first ? '' : sep) + j({ address: p.address, mode: p.mode, type: p.type, name: p.name, index: p.key, schema_version: 0, values: values(i, 'prior') }));
    first = false;
  }
  await write(']}}}');
  await write(`${sep}"configuration":${j({ provider_config: { aws: { name: 'aws', full_name: 'registry.terraform.io/hashicorp/aws' } }, root_module: { resources: TYPES.map((t) => ({ address: `${t}.x`, mode: 'managed', type: t, name: 'x', expressions: { name: { constant_value: 'x' } } })) } })}`);
  await write(`${sep}"relevant_attributes":[]${sep}"timestamp":"2026-01-01T00:00:00Z"${sep}"applyable":true${sep}"complete":true${sep}"errored":${opts.errored ? 'true' : 'false'}}\n`);
  await flush();
  out.end();
  await once(out, 'finish');
  return { bytes, counts };
}

const TYPES = ['aws_s3_bucket', 'aws_instance', 'aws_iam_role', 'aws_security_group_rule', 'aws_route53_record'];

function actionsFor(action: SyntheticAction, engine: 'terraform' | 'opentofu', i: number): string[] {
  switch (action) {
    case 'noop':
      return ['no-op'];
    case 'replace':
      if (engine === 'opentofu' && i % 3 === 0) return ['forget', 'create'];
      return i % 2 === 0 ? ['delete', 'create'] : ['create', 'delete'];
    default:
      return [action];
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
