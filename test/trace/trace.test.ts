// The pure parts of traces: the trace context a run carries (and Redis may hand back forged), what a span
// may say about a run, and the `traces` config section.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { runSchema } from '../../src/run/run-schema.ts';
import type { Run } from '../../src/run/run.ts';
import { tracesUrl } from '../../src/trace/config.ts';
import { errorTypeOf, newTraceparent, parseTraceparent, runAttributes } from '../../src/trace/trace.ts';

const GOOD = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

// Each row: a stored value, and whether it is a run's trace context (the stored run's schema agrees, but for unsampled).
const TRACEPARENTS: Array<[unknown, boolean, boolean]> = [
  [GOOD, true, true],
  ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', false, true], // not sampled: valid, not traced
  ['00-00000000000000000000000000000000-00f067aa0ba902b7-01', false, false], // zero trace id
  ['00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', false, false], // zero span id
  ['01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', false, false], // a version we do not speak
  ['00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', false, false], // upper case
  [`${GOOD}-extra`, false, false],
  [`${GOOD}\n`, false, false],
  ['00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', false, false],
  [42, false, false],
];

const RUN: Run = {
  id: 'r0123456789abcde',
  repo: 'infra',
  ref: 'refs/pull/7/head',
  pr: 7,
  sha: 'c0ffee'.padEnd(40, '0'),
  workspace: 'default',
  state: 'planning',
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

for (const [value, traced, stored] of TRACEPARENTS) {
  test(`traceparent ${JSON.stringify(value).slice(0, 70)}: traced ${traced}, a valid stored run ${stored}`, () => {
    assert.equal(parseTraceparent(value) !== null, traced);
    assert.equal(runSchema.safeParse({ ...RUN, traceparent: value }).success, stored);
  });
}

test('a new traceparent is sampled, random, and never all zeros', () => {
  const a = newTraceparent();
  assert.ok(parseTraceparent(a));
  assert.notEqual(a, newTraceparent());
  let calls = 0;
  const zerosFirst = (n: number) => (calls++ < 2 ? Buffer.alloc(n) : Buffer.alloc(n, 7));
  assert.equal(newTraceparent(zerosFirst), `00-${'07'.repeat(16)}-${'07'.repeat(8)}-01`);
});

test('a span says which run and how it came out, never a value, an address or who approved by name', () => {
  const run: Run = {
    ...RUN,
    agent: 'claude',
    author: 'Agent <agent@lab.internal>',
    plan: {
      sha256: 'ab'.repeat(32),
      tier: 'confirm',
      reasons: ['protected: proxmox_vm_qemu.database (a value: hunter2)'],
      engineVersion: '1.11.4',
      treeId: 'f'.repeat(40),
      summary: { formatVersion: '1.2', engineVersion: '1.11.4', counts: { create: 1, update: 0, delete: 2, replace: 0, forget: 0, read: 0, noop: 3, import: 0, move: 0, output: 0, imported: 0, moved: 0 }, changes: [{ address: 'proxmox_vm_qemu.database', action: 'delete' }], listed: 1, total: 3, errored: false },
    },
    decision: { decision: 'approve', by: { kind: 'human', id: 'os:alice' }, channel: 'terminal', breakGlass: true, at: '2026-01-01T00:03:00.000Z', planSha256: 'ab'.repeat(32) },
  };
  const a = runAttributes(run);
  assert.deepEqual(a, {
    'airlock.run.id': 'r0123456789abcde',
    'airlock.run.kind': 'pr',
    'airlock.workspace': 'default',
    'vcs.repository.name': 'infra',
    'vcs.ref.head.name': 'refs/pull/7/head',
    'vcs.ref.head.revision': run.sha,
    'vcs.change.id': '7',
    'gen_ai.agent.name': 'claude',
    'airlock.plan.sha256': 'ab'.repeat(32),
    'airlock.plan.tier': 'confirm',
    'airlock.plan.changes.create': 1,
    'airlock.plan.changes.update': 0,
    'airlock.plan.changes.delete': 2,
    'airlock.plan.changes.replace': 0,
    'airlock.plan.changes.forget': 0,
    'airlock.plan.changes.read': 0,
    'airlock.plan.changes.noop': 3,
    'airlock.plan.changes.import': 0,
    'airlock.plan.changes.move': 0,
    'airlock.plan.changes.output': 0,
    'airlock.plan.changes.imported': 0,
    'airlock.plan.changes.moved': 0,
    'airlock.decision': 'approve',
    'airlock.approver.kind': 'human',
    'airlock.decision.channel': 'terminal',
    'airlock.decision.break_glass': true,
  });
  for (const never of ['hunter2', 'proxmox_vm_qemu', 'alice', 'agent@lab.internal']) assert.ok(!JSON.stringify(a).includes(never), never);
});

test('error.type is a code or a class name, never the message', () => {
  assert.equal(errorTypeOf(Object.assign(new Error('token s3cr3t rejected'), { code: 'airlock:vault-bad-login' })), 'airlock:vault-bad-login');
  assert.equal(errorTypeOf(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'Error');
  assert.equal(errorTypeOf(new RangeError('s3cr3t')), 'RangeError');
  assert.equal(errorTypeOf('s3cr3t'), '_OTHER');
});

const MINIMAL = 'repos:\n  - name: infra\n    url: https://git.example/infra.git\n';

function problem(text: string): string {
  try {
    parseConfigText(text, 'runners/home.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail(`expected a config error for:\n${text}`);
}

test('traces are off by default; an endpoint turns them on with safe defaults', () => {
  const off = parseConfigText(MINIMAL, 'x.yaml');
  assert.equal(off.traces.otlp, undefined);
  const on = parseConfigText(`${MINIMAL}traces:\n  otlp:\n    endpoint: http://127.0.0.1:4318\n    headers:\n      x-scope-orgid: lab\n      authorization: { file: otlp.token, prefix: "Bearer " }\n`, 'x.yaml');
  assert.deepEqual(on.traces, { otlp: { endpoint: 'http://127.0.0.1:4318', headers: { 'x-scope-orgid': 'lab', authorization: { file: 'otlp.token', prefix: 'Bearer ' } }, timeout: 10_000, allowPlainHttp: false }, exportDelay: 5_000, serviceName: 'airlock' });
  assert.equal(tracesUrl('http://127.0.0.1:4318'), 'http://127.0.0.1:4318/v1/traces');
  assert.equal(tracesUrl('https://otel.lab/custom/traces'), 'https://otel.lab/custom/traces');
});

// Each row: the traces section, and what the error must say.
const BAD: Array<[string, string]> = [
  ['    endpoint: otel:4318\n', '`traces.otlp.endpoint` must be an http:// or https:// URL'],
  ['    endpoint: not a url\n', '`traces.otlp.endpoint` must be the OTLP/HTTP traces URL of a collector'],
  ['    endpoint: https://user:pw@otel.lab\n', '`traces.otlp.endpoint` must not hold credentials'],
  ['    endpoint: http://otel.lab:4318\n', 'sends spans (repos, agents, approvers\' identity kinds) and headers in clear to another host'],
  ['    endpoint: https://otel.lab\n    headers:\n      authorization: "Bearer abc"\n', '`traces.otlp.headers.authorization` must not be written here, it looks like a credential: read it from a file only the runner user can read, like `authorization: { file: /etc/airlock/otlp-token, prefix: "Bearer " }` (the value is not shown)'],
  ['    endpoint: https://otel.lab\n    headers:\n      x-api-key: "abc"\n', '`traces.otlp.headers.x-api-key` must not be written here, it looks like a credential'],
  ['    endpoint: https://otel.lab\n    headers:\n      "bad header": x\n', '`traces.otlp.headers.bad header` must be under an HTTP header name'],
  ['    endpoint: https://otel.lab\n    timeout: soon\n', '`traces.otlp.timeout` must be a duration like "10s"'],
  ['    endpoint: https://otel.lab\n    bogus: 1\n', 'unknown key `bogus` in `traces.otlp`'],
];

for (const [section, expected] of BAD) {
  test(`traces config error: ${expected.slice(0, 70)}`, () => {
    const message = problem(`${MINIMAL}traces:\n  otlp:\n${section}`);
    assert.ok(message.includes(expected), `message:\n${message}\nshould include:\n${expected}`);
    assert.ok(!message.includes('Bearer abc') && !/"abc"/.test(message), 'a credential-looking value is never echoed');
  });
}

test('plain http to another host is allowed only in so many words', () => {
  const c = parseConfigText(`${MINIMAL}traces:\n  otlp:\n    endpoint: http://otel.lab:4318\n    allowPlainHttp: true\n`, 'x.yaml');
  assert.equal(c.traces.otlp?.endpoint, 'http://otel.lab:4318');
  assert.ok(parseConfigText(`${MINIMAL}traces:\n  otlp:\n    endpoint: http://[::1]:4318\n`, 'x.yaml').traces.otlp, 'loopback v6');
});
