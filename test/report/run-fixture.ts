// Runs in every state, for the reporter's pure parts and its queue.
import type { Run, RunState } from '../../src/run/run.ts';
import { SHA } from './forge-fixture.ts';

let version = 1;

export function runIn(state: RunState, extra: Partial<Run> = {}): Run {
  return {
    id: 'r0123456789abcde',
    repo: 'infra',
    ref: 'refs/pull/7/head',
    pr: 7,
    sha: SHA,
    workspace: 'default',
    state,
    version: version++,
    createdAt: '2026-11-27T22:00:00.000Z',
    updatedAt: '2026-11-27T22:00:01.000Z',
    ...extra,
  };
}

export function plannedRun(state: RunState, addresses: string[], extra: Partial<Run> = {}): Run {
  return runIn(state, {
    plan: {
      sha256: 'c'.repeat(64),
      tier: 'approve',
      reasons: ['1 resource to create'],
      engineVersion: '1.11.4',
      treeId: 'd'.repeat(40),
      summary: {
        formatVersion: '1.2',
        engineVersion: '1.11.4',
        counts: { create: addresses.length - 1, update: 0, delete: 1, replace: 0, forget: 0, read: 0, noop: 0, import: 0, move: 0, output: 0, imported: 0, moved: 0 },
        changes: [...addresses.slice(1).map((address) => ({ address, action: 'create' as const })), { address: addresses[0]!, action: 'delete' as const }],
        listed: addresses.length,
        total: addresses.length,
        errored: false,
      },
    },
    ...extra,
  });
}
