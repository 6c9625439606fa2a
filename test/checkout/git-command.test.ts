import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeGitFailure, HARDENED_GIT_CONFIG, isUsableRemoteUrl, maskUserinfo, runGit, type GitOutcome } from '../../src/checkout/git-command.ts';
import { listRemoteHeads } from '../../src/watch/ls-remote.ts';

const outcome = (stderr: string, exitCode: number | null = 128): GitOutcome => ({
  ok: false,
  stdout: Buffer.alloc(0),
  stderr,
  exitCode,
  timedOut: false,
  overflowed: false,
});

describe('describeGitFailure', () => {
  it('keeps newlines, escapes other control and bidi characters', () => {
    const text = describeGitFailure(outcome('remote: \u001b[2J\u202eevil\r\nfatal: x\n'));
    assert.equal(text, 'remote: \\u001b[2J\\u202eevil\\u000d\nfatal: x');
  });
  it('cuts long messages', () => {
    assert.equal(describeGitFailure(outcome('x'.repeat(1000)), 10), `${'x'.repeat(10)}…`);
  });
  it('falls back to the exit code', () => {
    assert.equal(describeGitFailure(outcome('', 2)), 'git exited with code 2');
  });
});

describe('isUsableRemoteUrl', () => {
  for (const [url, ok] of [
    ['https://github.com/o/r.git', true],
    ['git@github.com:o/r.git', true],
    ['file:///srv/r.git', true],
    ['-oProxyCommand=touch x', false],
    ['--upload-pack=x', false],
    ['', false],
    ['https://h/r\n', false],
    ['https://h/r\u0000', false],
  ] as const) {
    it(`${JSON.stringify(url)} → ${ok}`, () => assert.equal(isUsableRemoteUrl(url), ok));
  }
});

describe('maskUserinfo in free text', () => {
  it('masks every URL in a message', () => {
    assert.equal(
      maskUserinfo("fatal: unable to access 'https://u:tok@h/r/': x; see http://a@b/c"),
      "fatal: unable to access 'https://***@h/r/': x; see http://***@b/c",
    );
  });
});

describe('runGit', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-gitcmd-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('kills git when stdout goes over the cap', async () => {
    const result = await runGit({ args: ['help', '-a'], cwd: work, timeoutMs: 10_000, maxStdoutBytes: 64 });
    assert.equal(result.overflowed, true);
    assert.equal(result.ok, false);
    assert.ok(result.stdout.length <= 64);
  });

  it('reports a missing working directory instead of throwing', async () => {
    const result = await runGit({ args: ['version'], cwd: join(work, 'missing'), timeoutMs: 10_000 });
    assert.equal(result.ok, false);
    assert.match(result.stderr, /does not exist/);
  });

  it('runs every command with the hardened config', async () => {
    const result = await runGit({ args: ['config', '--get-all', 'core.hooksPath'], cwd: work, timeoutMs: 10_000 });
    assert.equal(result.stdout.toString().trim(), '/dev/null');
    assert.ok(HARDENED_GIT_CONFIG.includes('credential.helper='));
  });

  it('gives git and its children a minimal environment: no runner secrets, no ambient GIT_*', async () => {
    // A fake `ssh` on PATH records the environment git hands to its transport.
    const bin = join(work, 'bin');
    const dump = join(work, 'env-dump');
    await rm(bin, { recursive: true, force: true });
    await mkdir(bin);
    await writeFile(join(bin, 'ssh'), `#!/bin/sh\nenv > '${dump}'\nexit 1\n`);
    await chmod(join(bin, 'ssh'), 0o755);
    const saved = { PATH: process.env.PATH, CANARY: process.env.AIRLOCK_TEST_CANARY, GIT_DIR: process.env.GIT_DIR, GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND };
    process.env.PATH = `${bin}${delimiter}${process.env.PATH ?? ''}`;
    process.env.AIRLOCK_TEST_CANARY = 'canary-5e3c1a9f-secret';
    process.env.GIT_DIR = join(work, 'not-a-repo');
    delete process.env.GIT_SSH_COMMAND;
    try {
      await assert.rejects(listRemoteHeads('ssh://git@example.invalid/o/r.git', ['*'], { timeoutMs: 10_000 }));
    } finally {
      for (const [key, value] of Object.entries({ PATH: saved.PATH, AIRLOCK_TEST_CANARY: saved.CANARY, GIT_DIR: saved.GIT_DIR, GIT_SSH_COMMAND: saved.GIT_SSH_COMMAND })) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    assert.ok(existsSync(dump), 'the fake ssh did not run');
    const env = await readFile(dump, 'utf8');
    assert.ok(!env.includes('canary-5e3c1a9f-secret'), 'a runner secret reached git');
    assert.ok(!/^GIT_DIR=/m.test(env), 'an ambient GIT_DIR reached git');
    assert.match(env, /^GIT_TERMINAL_PROMPT=0$/m);
  });
});
