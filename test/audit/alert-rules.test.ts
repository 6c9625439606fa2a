// The alert rules in deploy/alerts/ match the exact lines the code writes. One loop produces each event
// for real — a break-glass approval, an apply refused for lack of an approval on the chain, an agent
// trying to decide, a chain that fails verification, the witness — and every line filter of every rule
// must match one line of the stream that rule reads.
import assert from 'node:assert/strict';
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { listChainFiles } from '../../src/audit/read-audit.ts';
import { setupNtfyLoop } from '../approve/ntfy-loop-fixture.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { RedisAttacker } from '../support/redis-attacker.ts';

const RULES = fileURLToPath(new URL('../../deploy/alerts/airlock-audit.rules.yaml', import.meta.url));

interface Rule {
  alert: string;
  expr: string;
}

/** The stream selector and the line filters of a LogQL expression (`|=` contains, `|~` regex). */
function filtersOf(expr: string): { job: string; filters: Array<(line: string) => boolean>; shown: string[] } {
  const job = /\{job="([^"]+)"\}/.exec(expr)?.[1] ?? '';
  const filters: Array<(line: string) => boolean> = [];
  const shown: string[] = [];
  for (const m of expr.matchAll(/\|([=~])\s*`([^`]*)`/g)) {
    const [, op, text] = m as unknown as [string, string, string];
    shown.push(`${op} ${text}`);
    filters.push(op === '=' ? (line) => line.includes(text) : (line) => new RegExp(text).test(line));
  }
  return { job, filters, shown };
}

test('every alert rule matches a line the code really writes', async (t) => {
  // The configured channel is ntfy, so a decision at the runner host's terminal bypasses it: break-glass.
  const { loop } = await setupNtfyLoop(t, { extra: { audit: { agents: { 'claude-bot@agents.example': 'claude' } } } });
  const push = async (pr: number) => {
    const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO.replace('one', `one-${pr}`) }, { refs: [`refs/pull/${pr}/head`] });
    await loop.runner.watcher.pollAll();
    return waitForState(loop.runner, loop.runId(sha), ['awaiting_approval']);
  };

  // A break-glass approval on the runner host.
  const first = await push(1);
  assert.equal((await loop.cli('approve', first.id, '--yes')).code, 0);
  await waitForState(loop.runner, first.id, ['applied']);
  // An apply with no approval on the chain.
  const second = await push(2);
  await loop.runner.cp.runs.moveIf(second.id, ['awaiting_approval'], 'approved', {
    decision: { decision: 'approve', by: { kind: 'human', id: 'mallory' }, channel: 'ntfy', breakGlass: false, at: new Date().toISOString(), planSha256: second.plan!.sha256 },
  });
  await loop.runner.cp.enqueueApply(second.id);
  await waitForState(loop.runner, second.id, ['failed']);
  // An agent identity trying to decide.
  const third = await push(3);
  await loop.runner.cp.approvals.decide({ decision: 'approve', by: { kind: 'human', id: 'claude-bot@agents.example' }, channel: 'ntfy', runId: third.id }).catch(() => undefined);
  // A record in Redis the runner did not write: a plan job for a run id that is not one.
  const attacker = new RedisAttacker(loop.prefix);
  t.after(() => attacker.close());
  await attacker.injectJob('plan', 'plan', { runId: '..' }, 'plan-..');
  await waitFor('the quarantine line', async () => loop.log.raw.includes('redis.quarantined'));
  // A chain that no longer verifies (the CLI's chain gets a line nobody sealed).
  await appendFile(path.join(loop.runner.cp.paths.auditDir, 'test-cli.jsonl'), '{"seq":99,"type":"approval.granted"}\n');
  assert.equal(await loop.runner.witness.verify(), false);
  await waitFor('the verify failure line', async () => loop.log.raw.includes('audit.verify_failed'));

  const streams: Record<string, string[]> = {
    airlock: loop.log.raw.split('\n').filter(Boolean),
    'airlock-audit': (await Promise.all((await listChainFiles(loop.runner.cp.paths.auditDir)).map((f) => readFile(f, 'utf8')))).join('').split('\n').filter(Boolean),
  };
  const rules = (parse(await readFile(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
  assert.deepEqual(
    ['AirlockApplyWithoutApproval', 'AirlockBreakGlassDecision', 'AirlockAuditChainVerifyFailed', 'AirlockAuditWitnessGap'].filter((name) => !rules.some((r) => r.alert === name)),
    [],
    'the four alerts the issue asks for exist',
  );
  for (const rule of rules) {
    const { job, filters, shown } = filtersOf(rule.expr);
    assert.ok(streams[job], `${rule.alert} reads a stream we ship: ${job}`);
    assert.ok(filters.length > 0, `${rule.alert} filters lines`);
    const hit = streams[job]!.find((line) => filters.every((f) => f(line)));
    assert.ok(hit, `${rule.alert}: no ${job} line matches ${shown.join(' and ')}`);
  }
});
