// The provider mirror, with a real terraform/tofu (skipped without one): the runner fills it from an
// origin with exactly the allowlisted providers; plans install from it alone (a symlink into the read-only
// mirror, verified against the lock file's hashes), so a second plan needs no origin at all; the apply
// runs on providers from the mirror; a provider outside the allowlist is not in the mirror, and a lock
// file that disagrees with the mirror's package stops `init`.
import assert from 'node:assert/strict';
import { lstat, readFile, readlink, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { createEngine } from '../../src/engine/engine.ts';
import { fillProviderMirror } from '../../src/engine/mirror-fill.ts';
import { createLogger } from '../../src/log/logger.ts';
import { engineSpecFor } from '../../src/engine/spec.ts';
import { findOnPath } from '../../src/sandbox/host.ts';
import { setupLoop, type Loop } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { sandboxConfigForTests, sandboxedTests } from '../support/engine-under-test.ts';
import { CapturedLog, removeDir, tempDir, waitForState } from '../support/harness.ts';
import { buildOrigin, PLATFORM, type FakePackage } from './fake-provider/build.ts';

const FAKE = 'registry.terraform.io/airlock-test/fake';
const real = process.env['AIRLOCK_TEST_ENGINE'] ?? (await findOnPath('terraform')) ?? (await findOnPath('tofu'));
const skip = (!sandboxedTests() && 'AIRLOCK_TEST_SANDBOX=none') || (!real && 'needs a real terraform or tofu (AIRLOCK_TEST_ENGINE or on PATH)');

const tf = (input: string, source = FAKE) =>
  `terraform {\n  required_providers {\n    fake = { source = "${source}" }\n  }\n}\n\nresource "terraform_data" "a" {\n  input = "${input}"\n}\n`;

/** A runner on the real engine whose allowlist holds only the fake provider, filling its mirror from `origin`. */
async function mirrorLoop(t: TestContext): Promise<{ loop: Loop; origin: string; packages: FakePackage[]; mirror: string }> {
  const originRoot = await tempDir('origin');
  t.after(() => removeDir(originRoot));
  const origin = path.join(originRoot, 'mirror');
  const packages = await buildOrigin(origin, [
    { namespace: 'airlock-test', name: 'fake', version: '1.0.0' },
    { namespace: 'airlock-test', name: 'other', version: '1.0.0' },
  ]);
  const sandbox = sandboxConfigForTests();
  const loop = await setupLoop(t, {
    engineBinary: real!,
    engineExtra: { kind: path.basename(real!).includes('tofu') ? 'tofu' : 'terraform', providers: { origin, fill: 'startup' } },
    // The fake provider is a node script: the sandbox must see its interpreter (node under /usr here).
    sandbox,
    extra: { guard: { providers: [FAKE] } },
  });
  const mirror = path.join(loop.loaded.config.runner.dataDir, 'providers');
  return { loop, origin, packages, mirror };
}

async function planHead(loop: Loop, pr: number, files: Record<string, string>) {
  const sha = await pushCommit(loop.remote, files, { refs: [`refs/pull/${pr}/head`] });
  await loop.runner.watcher.pollAll();
  return waitForState(loop.runner, loop.runId(sha), ['awaiting_approval', 'failed', 'refused'], 90_000);
}

test('the mirror holds the allowlisted provider only; plans link it from the mirror; the apply uses it; a second plan needs no origin', { skip }, async (t) => {
  const { loop, origin, packages, mirror } = await mirrorLoop(t);
  const fake = packages.find((p) => p.source === FAKE)!;

  const first = await planHead(loop, 1, { 'main.tf': tf('one') });
  assert.equal(first.state, 'awaiting_approval', JSON.stringify(first.error));
  const pkg = path.join(mirror, FAKE, '1.0.0', PLATFORM);
  assert.ok((await stat(path.join(pkg, 'terraform-provider-fake_v1.0.0'))).isFile(), 'the fill put the allowlisted provider in the mirror');
  assert.equal(await stat(path.join(mirror, 'registry.terraform.io/airlock-test/other')).catch(() => null), null, 'a provider outside the allowlist is not in the mirror, though the origin has it');
  if (process.getuid?.() === 0) assert.equal((await stat(pkg)).uid, 0, 'the mirror belongs to the runner again after the fill');

  // init installed by linking into the read-only mirror: nothing was downloaded or copied.
  const workspace = loop.runner.cp.paths.job(first.id).tree;
  const installed = path.join(workspace, '.terraform/providers', FAKE, '1.0.0', PLATFORM);
  assert.ok((await lstat(installed)).isSymbolicLink());
  assert.equal(await readlink(installed), pkg);
  // terraform verified the package and recorded its hash: the same h1 this test computed.
  assert.match(await readFile(path.join(workspace, '.terraform.lock.hcl'), 'utf8'), new RegExp(fake.h1.replace(/[+/=]/g, (c) => `\\${c}`)));

  assert.equal((await loop.cli('approve', first.id, '--yes')).code, 0);
  const applied = await waitForState(loop.runner, first.id, ['applied', 'failed', 'needs_attention'], 90_000);
  assert.equal(applied.state, 'applied', JSON.stringify(applied.error));
  const state = JSON.parse(await readFile(loop.runner.cp.paths.stateFile('infra', 'default'), 'utf8')) as { resources: Array<{ type: string }> };
  assert.deepEqual(state.resources.map((r) => r.type), ['terraform_data'], 'the state file is where the backend says');

  // The origin goes away; a new runner start cannot refill, and a second plan needs nothing from it.
  await rm(origin, { recursive: true, force: true });
  await loop.restart();
  const second = await planHead(loop, 2, { 'main.tf': tf('two') });
  assert.equal(second.state, 'awaiting_approval', JSON.stringify(second.error));
  assert.equal(await readlink(path.join(loop.runner.cp.paths.job(second.id).tree, '.terraform/providers', FAKE, '1.0.0', PLATFORM)), pkg);
});

test('a provider outside the allowlist cannot be installed, and a lock file that disagrees with the mirror stops init', { skip }, async (t) => {
  const { loop, mirror } = await mirrorLoop(t);
  const log = createLogger({ level: 'debug', destination: new CapturedLog().stream, pretty: false });
  const { config } = loop.loaded;
  await fillProviderMirror(config, createEngine(await engineSpecFor(config)), log);
  const engine = createEngine(await engineSpecFor(config));
  const dir = await tempDir('mirror-init');
  t.after(() => removeDir(dir));
  // Straight at the engine, past the guard (which would refuse it first): the mirror simply lacks it.
  const { mkdir, writeFile } = await import('node:fs/promises');
  const ws = path.join(dir, 'ws');
  await mkdir(ws);
  await writeFile(path.join(ws, 'main.tf'), tf('x', 'registry.terraform.io/airlock-test/other'));
  const lines: string[] = [];
  await assert.rejects(engine.init({ cwd: ws, homeDir: path.join(dir, 'home'), onLine: (l) => lines.push(l) }), { code: 'airlock:engine-failed' });
  assert.match(lines.join('\n'), /airlock-test\/other/);
  assert.ok(await stat(path.join(mirror, FAKE)).then(() => true), 'the allowlisted one is there');

  const wrongLock = `provider "${FAKE}" {\n  version = "1.0.0"\n  hashes = [\n    "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",\n  ]\n}\n`;
  const run = await planHead(loop, 3, { 'main.tf': tf('lock'), '.terraform.lock.hcl': wrongLock });
  assert.equal(run.state, 'failed');
  assert.equal(run.error?.code, 'airlock:engine-failed');
  assert.match(run.error?.tail ?? '', /checksum|doesn't match|does not match/i);
});
