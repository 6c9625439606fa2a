// Read-only commands (`runs`, `show`, `audit show|tail|verify|check`) as their own processes: they create
// no file, take no lock and write nothing to Redis, even while an `approve` holds the CLI chain.
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { cliLine, runCli, withTerminal } from '../support/cli-process.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { startPrivateRedis } from '../support/private-redis.ts';

test('read-only commands create nothing and take no lock, while an approve holds the CLI chain; audit show names each chain', async (t) => {
  const redis = await startPrivateRedis();
  t.after(() => redis.stop());
  const loop = await setupLoop(t, { runnerId: 'lab-1', extra: { redis: { url: redis.url, prefix: 'airlock-ro' } } });
  const file = loop.loaded.file;
  const first = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const applied = await waitForState(loop.runner, loop.runId(first), ['awaiting_approval']);
  assert.equal((await runCli(['approve', applied.id, '--yes', '--config', file])).code, 0);
  await waitForState(loop.runner, applied.id, ['applied']);
  const second = await pushCommit(loop.remote, { 'main.tf': TF_TWO.replace('one', 'two') }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const pending = await waitForState(loop.runner, loop.runId(second), ['awaiting_approval']);
  // From here on only the CLI talks to this Redis.
  await loop.runner.stop();

  // An operator is reading the plan at an approve prompt: that process holds the CLI chain's lock.
  const approving = withTerminal(cliLine(file, 'approve', pending.id));
  t.after(() => void (approving.child.exitCode === null && approving.child.kill('SIGKILL')));
  await waitFor('the approve prompt', async () => approving.output().includes('[y/N]'));
  const dataDir = loop.loaded.config.runner.dataDir;
  const before = await snapshot(dataDir);
  assert.ok(before.some((e) => e.startsWith('audit/lab-1-cli.jsonl.lock ')), 'the approve holds the lock');
  const watcher = new Redis(redis.url);
  const monitor = await watcher.monitor();
  const commands: string[] = [];
  monitor.on('monitor', (_time: string, args: string[]) => commands.push(String(args[0]).toLowerCase()));

  const readOnly = [
    ['runs'],
    ['show', applied.id],
    ['audit', 'show', '--run', applied.id],
    ['audit', 'tail', '-n', '100'],
    ['audit', 'verify'],
    ['audit', 'check'],
  ];
  const outputs: Record<string, string> = {};
  for (const args of readOnly) {
    const r = await runCli([...args, '--config', file], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    outputs[args.join(' ')] = r.stdout;
  }
  monitor.disconnect();
  watcher.disconnect();
  assert.deepEqual(await snapshot(dataDir), before, 'no file created, changed or removed');
  const writes = commands.filter((c) => !['hello', 'ping', 'info', 'config', 'hmget', 'hget', 'zrevrange', 'client', 'select', 'monitor'].includes(c));
  assert.deepEqual([...new Set(writes)], [], 'only reads reached Redis');

  approving.child.stdin.write('n\n');
  assert.equal(await approving.exited, 1);
  assert.match(approving.output(), /not approved; nothing changed/);

  // Records of one run sit on two chains with their own seq numbers: each line names its chain.
  const shown = outputs[`audit show --run ${applied.id}`]!;
  assert.match(shown, /^ {2}chains: lab-1-cli\.jsonl \(the CLI on the runner host\), lab-1\.jsonl \(the runner\)$/m);
  assert.match(shown, /^lab-1\.jsonl#\d+ +\S+ +run\.sighted +runner:lab-1 /m);
  assert.match(shown, /^lab-1-cli\.jsonl#1 +\S+ +approval\.granted +human:os:/m);
  // The audit actor is the runner's id, never the default "airlock".
  assert.doesNotMatch(shown + outputs['audit tail -n 100'], /runner:airlock/);
  // audit check: the configured channel is terminal, so the terminal decision is not break-glass.
  assert.match(outputs['audit check']!, /^no findings in \d+ records on 2 chain\(s\)$/m);
});

/** Every entry under `dir` with its size and modification time: any write shows up. */
async function snapshot(dir: string): Promise<string[]> {
  const entries: string[] = [];
  const walk = async (sub: string) => {
    for (const name of (await readdir(path.join(dir, sub))).sort()) {
      const rel = sub ? `${sub}/${name}` : name;
      const s = await stat(path.join(dir, rel));
      entries.push(`${rel} ${s.isDirectory() ? 'dir' : s.size} ${s.mtimeMs}`);
      if (s.isDirectory()) await walk(rel);
    }
  };
  await walk('');
  return entries;
}
