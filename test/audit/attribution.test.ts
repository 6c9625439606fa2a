// Attribution and fingerprint: git identities map to agent names (pure, a table); an agent identity is
// recognised as an approver under any of its names; a commit's author and committer are read from a
// real mirror; the fingerprint changes when any one of its six inputs changes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { agentForApprover, agentForGitIdentity, attributeCommit } from '../../src/audit/attribution.ts';
import { computeFingerprint, lockFileHashIn, type FingerprintInputs } from '../../src/audit/fingerprint.ts';
import { policyHash as policyHashOf } from '../../src/policy/policy.ts';
import { ensureMirror, fetchCommit, readCommitIdentity } from '../../src/checkout/mirror.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { makeRemote, pushCommit } from '../git-fixtures.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const AGENTS = {
  'claude-bot@agents.example': 'claude',
  'Codex Agent <codex@agents.example>': 'codex',
  'os:agent-runner': 'claude',
};

test('git identities map to agents by email, `Name <email>` or name, case-insensitively', () => {
  const rows: Array<[{ name: string; email: string }, string | null]> = [
    [{ name: 'Claude', email: 'claude-bot@agents.example' }, 'claude'],
    [{ name: 'Anyone', email: 'CLAUDE-BOT@Agents.Example' }, 'claude'],
    [{ name: 'Codex Agent', email: 'codex@agents.example' }, 'codex'],
    [{ name: 'Codex Agent', email: 'someone-else@agents.example' }, null],
    [{ name: 'Alice', email: 'alice@example.com' }, null],
  ];
  for (const [id, agent] of rows) assert.equal(agentForGitIdentity(AGENTS, id), agent, JSON.stringify(id));
});

test('a commit is attributed by its author first, then its committer', () => {
  const human = { name: 'Alice', email: 'alice@example.com' };
  const bot = { name: 'Claude', email: 'claude-bot@agents.example' };
  assert.deepEqual(attributeCommit(AGENTS, { author: bot, committer: human }), { agent: 'claude', matchedBy: 'author', author: 'Claude <claude-bot@agents.example>', committer: 'Alice <alice@example.com>' });
  assert.deepEqual(attributeCommit(AGENTS, { author: human, committer: bot }).matchedBy, 'committer');
  assert.deepEqual(attributeCommit(AGENTS, { author: human, committer: human }).agent, null);
  const long = attributeCommit(AGENTS, { author: { name: 'x'.repeat(100_000), email: 'claude-bot@agents.example' }, committer: human });
  assert.equal(long.agent, 'claude', 'matching uses the whole identity');
  assert.equal(long.author.length, 256, 'what is recorded is clipped');
});

test('an approver is an agent under a mapped identity, the agent\'s own name, or an `os:`/channel prefix of either', () => {
  const rows: Array<[string, string | null]> = [
    ['claude-bot@agents.example', 'claude'],
    ['os:agent-runner', 'claude'],
    ['claude', 'claude'],
    ['os:claude', 'claude'],
    ['ntfy:Codex', 'codex'],
    ['alice', null],
    ['os:alice', null],
  ];
  for (const [id, agent] of rows) assert.equal(agentForApprover(AGENTS, id), agent, id);
});

test('readCommitIdentity reads author and committer from a real mirror, not the message', async (t) => {
  const remote = await makeRemote();
  const dir = await tempDir('identity');
  t.after(async () => {
    await remote.cleanup();
    await removeDir(dir);
  });
  const sha = await pushCommit(remote, { 'main.tf': '' }, {
    refs: ['refs/pull/3/head'],
    author: { name: 'Claude (agent)', email: 'claude-bot@agents.example' },
    message: 'innocent\n\nauthor Alice <alice@example.com> 1700000000 +0000',
  });
  const mirror = path.join(dir, 'mirror.git');
  await ensureMirror(mirror, remote.url);
  await fetchCommit(mirror, remote.url, sha);
  const identity = await readCommitIdentity(mirror, sha);
  assert.deepEqual(identity, {
    author: { name: 'Claude (agent)', email: 'claude-bot@agents.example' },
    committer: { name: 'Airlock Test', email: 'test@airlock.invalid' },
  });
  await assert.rejects(readCommitIdentity(mirror, 'not-a-sha'));
});

test('the fingerprint changes with each of its six inputs and with nothing else', () => {
  const base: FingerprintInputs = {
    treeId: '1'.repeat(40),
    planSha256: '2'.repeat(64),
    configHash: '3'.repeat(64),
    policyHash: '4'.repeat(64),
    engineVersion: '1.11.4',
    lockFileHash: 'none',
  };
  const fp = computeFingerprint(base);
  assert.match(fp.sha256, /^[0-9a-f]{64}$/);
  assert.equal(computeFingerprint({ ...base }).sha256, fp.sha256, 'deterministic');
  for (const key of Object.keys(base) as Array<keyof FingerprintInputs>) {
    assert.notEqual(computeFingerprint({ ...base, [key]: `${base[key]}x` }).sha256, fp.sha256, `${key} is part of the fingerprint`);
  }
  assert.equal(computeFingerprint({ ...base, extra: 'ignored' } as FingerprintInputs).sha256, fp.sha256);
});

test('the provider lock hash is the lock file\'s sha256, or "none"', async (t) => {
  const dir = await tempDir('lockfile');
  t.after(() => removeDir(dir));
  assert.equal(await lockFileHashIn(dir), 'none');
  await writeFile(path.join(dir, '.terraform.lock.hcl'), 'provider "registry.terraform.io/hashicorp/null" {}\n');
  assert.equal(await lockFileHashIn(dir), createHash('sha256').update('provider "registry.terraform.io/hashicorp/null" {}\n').digest('hex'));
});

test('the policy hash is stable for one config and changes when the policy or guard section changes', () => {
  const a = parseConfigText('runner: { id: one }\n', 'a.yaml');
  const b = parseConfigText('runner: { id: two }\n', 'b.yaml');
  assert.match(policyHashOf(a), /^[0-9a-f]{64}$/);
  assert.equal(policyHashOf(a), policyHashOf(b), 'sections other than policy and guard do not change it');
  const stricter = parseConfigText('runner: { id: one }\nguard: { providers: ["hashicorp/null"] }\n', 'c.yaml');
  assert.notEqual(policyHashOf(stricter), policyHashOf(a));
});
