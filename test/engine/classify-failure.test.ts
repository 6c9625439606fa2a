// Classifying failed engine output, with text captured from terraform 1.11.4.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyEngineFailure, parseLockInfo, PlanStaleError, StateLockedError } from '../../src/engine/engine.ts';

const LOCKED = `
Error: Error acquiring the state lock

Error message: resource temporarily unavailable
Lock Info:
  ID:        a0887e82-20ef-5faa-dcdd-3bda61d96c38
  Path:      state/my.tfstate
  Operation: OperationTypeApply
  Who:       root@vm
  Version:   1.11.4
  Created:   2026-11-22 02:12:45.946650745 +0000 UTC
  Info:      


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.
`;

// The same diagnostic when colour is on: ANSI codes and a box-drawing gutter.
const LOCKED_COLOUR = LOCKED.split('\n')
  .map((l) => `\u001b[31m│\u001b[0m \u001b[0m${l}`)
  .join('\n');

const STALE = `
Error: Saved plan is stale

The given plan file can no longer be applied because the state was changed by
another operation after the plan was created.
`;

const LINEAGE = `
Error: Saved plan does not match the given state

The given plan file can not be applied because it was created from a different
state lineage.
`;

const SYNTAX = `
Error: Unsupported argument

  on main.tf line 3, in resource "terraform_data" "a":
   3:   bogus = 1

An argument named "bogus" is not expected here.
`;

const EXPECTED_LOCK = {
  id: 'a0887e82-20ef-5faa-dcdd-3bda61d96c38',
  path: 'state/my.tfstate',
  operation: 'OperationTypeApply',
  who: 'root@vm',
  version: '1.11.4',
  created: '2026-11-22 02:12:45.946650745 +0000 UTC',
};

const TABLE: Array<[string, string, unknown]> = [
  ['state lock', LOCKED, { kind: 'state-locked', lockInfo: EXPECTED_LOCK }],
  ['state lock with colour', LOCKED_COLOUR, { kind: 'state-locked', lockInfo: EXPECTED_LOCK }],
  ['stale plan', STALE, { kind: 'plan-stale', reason: 'serial' }],
  ['other lineage', LINEAGE, { kind: 'plan-stale', reason: 'lineage' }],
  ['configuration error', SYNTAX, { kind: 'failed' }],
  ['no output', '', { kind: 'failed' }],
  ['lock error without info block', 'Error: Error acquiring the state lock\n\nError message: timeout\n', { kind: 'state-locked', lockInfo: undefined }],
];

for (const [name, output, expected] of TABLE) {
  test(`classifies: ${name}`, () => {
    assert.deepEqual(classifyEngineFailure(output), expected);
  });
}

test('parseLockInfo reads the last Lock Info block', () => {
  const two = LOCKED.replace('a0887e82-20ef-5faa-dcdd-3bda61d96c38', 'old-id') + LOCKED;
  assert.equal(parseLockInfo(two)?.id, EXPECTED_LOCK.id);
  assert.equal(parseLockInfo('nothing here'), undefined);
});

test('the state-locked error names the lock id and how to release it', () => {
  const err = new StateLockedError({ step: 'apply', outputTail: LOCKED, lockInfo: EXPECTED_LOCK, kind: 'tofu' });
  assert.equal(err.code, 'airlock:state-locked');
  assert.match(err.message, /a0887e82-20ef-5faa-dcdd-3bda61d96c38/);
  assert.match(err.message, /`tofu force-unlock a0887e82-20ef-5faa-dcdd-3bda61d96c38`/);
  assert.match(err.message, /no plan or apply is running/);
  assert.equal(err.lockInfo?.who, 'root@vm');
});

test('the raw output tail is kept but never serialized with the error', () => {
  const err = new PlanStaleError({ step: 'apply', outputTail: 'secret-in-output', reason: 'serial' });
  assert.equal(err.outputTail, 'secret-in-output');
  assert.ok(!JSON.stringify(err).includes('secret-in-output'));
  assert.ok(!Object.keys(err).includes('outputTail'));
  assert.ok(!err.message.includes('secret-in-output'));
});
