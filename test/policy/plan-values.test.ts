// The plan reader picks exactly the planned values the policy asks for, from real and hostile plan JSON,
// wherever the file is cut into chunks; nothing else is decoded.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PICK_TOO_LARGE, PlanJsonScanner, summarizePlanFile, type PickedAfter, type ValuePicker } from '../../src/plan/read-plan-json.ts';
import type { RawResourceChange } from '../../src/plan/summary.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const FIXTURES = fileURLToPath(new URL('../plan/fixtures/', import.meta.url));
const RULES: Record<string, string[]> = {
  kubernetes_deployment: ['spec.replicas', 'spec.template.cpu'],
  proxmox_vm_qemu: ['memory', 'a_very_long_attribute_name_that_is_longer_than_thirty_two_characters'],
  terraform_data: ['input', 'output'],
};
const picker: ValuePicker = { pathsFor: (_address, type) => RULES[type] ?? null };

const CANARY = 'canary-4f1d9e-never-decoded';
const BIG = 'x'.repeat(70 * 1024);

const PLAN = {
  format_version: '1.2',
  terraform_version: '1.11.4',
  planned_values: { root_module: { resources: [{ address: 'kubernetes_deployment.web', values: { spec: [{ replicas: 999 }] } }] } },
  resource_changes: [
    {
      address: 'kubernetes_deployment.web',
      mode: 'managed',
      type: 'kubernetes_deployment',
      change: {
        actions: ['update'],
        before: { spec: [{ replicas: '1' }] },
        after: { metadata: [{ name: CANARY }], spec: [{ replicas: '3', template: [{ cpu: 2 }, { cpu: [4, 8] }] }, { replicas: 7 }] },
        after_unknown: { spec: [{ template: [{ cpu: true }] }] },
      },
    },
    {
      address: 'kubernetes_deployment.computed',
      mode: 'managed',
      type: 'kubernetes_deployment',
      change: { actions: ['create'], after: { spec: [{}] }, after_unknown: { spec: true } },
    },
    {
      address: 'proxmox_vm_qemu.vm',
      type: 'proxmox_vm_qemu',
      mode: 'managed',
      change: {
        actions: ['create'],
        after: { 'mem\u006fry': 4096, a_very_long_attribute_name_that_is_longer_than_thirty_two_characters: 1, blob: CANARY },
        after_unknown: {},
      },
    },
    {
      // `change` before `address` and `type`: nothing can be picked, and the entry says so.
      change: { actions: ['create'], after: { memory: 1 } },
      address: 'proxmox_vm_qemu.odd',
      mode: 'managed',
      type: 'proxmox_vm_qemu',
    },
    {
      address: 'proxmox_vm_qemu.huge',
      mode: 'managed',
      type: 'proxmox_vm_qemu',
      change: { actions: ['create'], after: { memory: BIG }, after_unknown: {} },
    },
    {
      address: 'aws_instance.other',
      mode: 'managed',
      type: 'aws_instance',
      change: { actions: ['create'], after: { memory: CANARY }, after_unknown: {} },
    },
  ],
};

const EXPECTED: Record<string, PickedAfter | undefined> = {
  'kubernetes_deployment.web': { after: { 'spec.replicas': ['3', 7], 'spec.template.cpu': [2, 4, 8] }, unknown: ['spec.template.cpu'] },
  'kubernetes_deployment.computed': { after: {}, unknown: ['spec.replicas', 'spec.template.cpu'] },
  'proxmox_vm_qemu.vm': { after: { memory: [4096], a_very_long_attribute_name_that_is_longer_than_thirty_two_characters: [1] }, unknown: [] },
  'proxmox_vm_qemu.odd': { after: {}, unknown: [], unseen: true },
  'proxmox_vm_qemu.huge': { after: { memory: [PICK_TOO_LARGE] }, unknown: [] },
  'aws_instance.other': undefined,
};

function scan(bytes: Buffer, cuts: number[]): RawResourceChange[] {
  const entries: RawResourceChange[] = [];
  const scanner = new PlanJsonScanner((e) => entries.push(e), { picker });
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    scanner.push(bytes.subarray(from, cut));
    from = cut;
  }
  scanner.end();
  return entries;
}

function normalize(picked: unknown): unknown {
  if (picked === undefined) return undefined;
  const p = picked as PickedAfter;
  return { after: p.after, unknown: [...p.unknown].sort(), ...(p.unseen ? { unseen: true } : {}) };
}

describe('picking planned values', () => {
  const bytes = Buffer.from(JSON.stringify(PLAN));

  it('picks what the rules ask for, in one chunk', () => {
    const entries = scan(bytes, []);
    for (const entry of entries) assert.deepEqual(normalize(entry['picked']), normalize(EXPECTED[entry.address as string]), String(entry.address));
    assert.deepEqual(entries.map((e) => e['type']), ['kubernetes_deployment', 'kubernetes_deployment', 'proxmox_vm_qemu', 'proxmox_vm_qemu', 'proxmox_vm_qemu', 'aws_instance']);
  });

  it('picks the same wherever the file is cut', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const cuts = Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * bytes.length)).sort((a, b) => a - b);
      for (const entry of scan(bytes, cuts)) {
        assert.deepEqual(normalize(entry['picked']), normalize(EXPECTED[entry.address as string]), `${String(entry.address)} cut at ${cuts.join(',')}`);
      }
    }
  });

  it('never decodes a value it was not asked for', () => {
    const entries = scan(bytes, []);
    assert.ok(!JSON.stringify(entries).includes(CANARY));
  });

  it('decodes nothing at all without a picker', () => {
    const entries: RawResourceChange[] = [];
    const scanner = new PlanJsonScanner((e) => entries.push(e));
    scanner.push(bytes);
    scanner.end();
    assert.ok(entries.every((e) => e['picked'] === undefined));
  });

  it('reads real terraform output', async () => {
    const picked: unknown[] = [];
    const summary = await summarizePlanFile(path.join(FIXTURES, 'real-update.json'), { picker, onEntry: (e) => picked.push(e['picked']) });
    assert.equal(summary.counts.update, 1);
    assert.deepEqual(normalize(picked[0]), { after: { input: ['y'] }, unknown: ['output'] });
  });

  it('still refuses a duplicate `after` key', async (t) => {
    const dir = await tempDir('pick');
    t.after(() => removeDir(dir));
    const file = path.join(dir, 'plan.json');
    await writeFile(file, '{"format_version":"1.2","terraform_version":"1","resource_changes":[{"address":"a.b","mode":"managed","type":"a","change":{"actions":["create"],"after":{},"after":{}}}]}');
    await assert.rejects(summarizePlanFile(file, { picker }), /the key "after" appears twice/);
  });
});
