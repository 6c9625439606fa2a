// Why a plan needs the second confirmation, in the policy's words, and the number typed at a terminal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confirmationCount, confirmationReason } from '../../src/approve/confirmation.ts';
import type { RunPlan } from '../../src/run/run.ts';

const plan = (counts: Partial<Record<'create' | 'update' | 'delete' | 'replace', number>>, reasons: string[]) => {
  const c = { create: 0, update: 0, delete: 0, replace: 0, forget: 0, ...counts };
  return { summary: { counts: c, total: c.create + c.update + c.delete + c.replace }, reasons } as unknown as Pick<RunPlan, 'summary' | 'reasons'>;
};

test('a plan that only creates a protected resource: the protect rule, and the number of changes', () => {
  const p = plan({ create: 2 }, ['[protect:aws_iam_*] protected: changing it needs confirmation: aws_iam_role.ci', '[default:change] changes infrastructure: approval required']);
  assert.equal(confirmationReason(p), '[protect:aws_iam_*] protected: changing it needs confirmation: aws_iam_role.ci');
  assert.equal(confirmationCount(p), 2);
});

test('a destroying plan: the destroy rule, and the number destroyed', () => {
  const p = plan({ create: 1, delete: 2, replace: 1 }, ['[default:destroy] destroys 3 resource(s): confirmation required']);
  assert.equal(confirmationReason(p), '[default:destroy] destroys 3 resource(s): confirmation required');
  assert.equal(confirmationCount(p), 3);
});

test('the applies-off note is never the reason; without reasons the counts speak', () => {
  assert.equal(confirmationReason(plan({ create: 1 }, ['[applies-off] applies are switched off', '[limit:max-changes] 60 resources change, more than 50'])), '[limit:max-changes] 60 resources change, more than 50');
  assert.equal(confirmationReason(plan({ delete: 1 }, [])), 'it destroys 1 resource(s)');
});
