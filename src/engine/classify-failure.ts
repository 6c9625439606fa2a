// Reading a failed engine run's output. Terraform and OpenTofu print the same diagnostics for the
// cases Airlock treats specially; everything else is a plain failure whose text the operator reads.

import type { LockInfo } from './engine.ts';

export type EngineFailure =
  | { kind: 'plan-stale'; reason: 'serial' | 'lineage' }
  | { kind: 'state-locked'; lockInfo: LockInfo | undefined }
  | { kind: 'failed' };

// ANSI colour can still appear if a wrapper ignores -no-color; box-drawing gutters ("│ ") appear
// when color is on. Both are stripped before matching.
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const GUTTER = /^[│╷╵]\s?/gm;

/** Pure: classify a failed run's output (stale plan, state lock with lock info, or plain failure). */
export function classifyEngineFailure(output: string): EngineFailure {
  const text = output.replace(ANSI, '').replace(GUTTER, '');
  if (text.includes('Saved plan does not match the given state')) return { kind: 'plan-stale', reason: 'lineage' };
  if (text.includes('Saved plan is stale')) return { kind: 'plan-stale', reason: 'serial' };
  if (text.includes('Error acquiring the state lock')) return { kind: 'state-locked', lockInfo: parseLockInfo(text) };
  return { kind: 'failed' };
}

const FIELDS: Record<string, keyof LockInfo> = {
  ID: 'id',
  Path: 'path',
  Operation: 'operation',
  Who: 'who',
  Version: 'version',
  Created: 'created',
};

/** Pure: the `Lock Info:` block printed under "Error acquiring the state lock", if present. */
export function parseLockInfo(output: string): LockInfo | undefined {
  const text = output.replace(ANSI, '').replace(GUTTER, '');
  const start = text.lastIndexOf('Lock Info:');
  if (start < 0) return undefined;
  const info: LockInfo = { id: '', path: '', operation: '', who: '', version: '', created: '' };
  for (const line of text.slice(start + 'Lock Info:'.length).split('\n').slice(1, 12)) {
    const m = /^\s+([A-Za-z]+):[ \t]*(.*?)\s*$/.exec(line);
    if (!m) {
      if (line.trim() === '') break;
      continue;
    }
    const field = FIELDS[m[1] ?? ''];
    if (field) info[field] = m[2] ?? '';
  }
  return info.id ? info : undefined;
}
