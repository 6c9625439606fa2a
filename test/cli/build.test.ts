// The build (`npm run build`; `npm ci` runs it through `prepare`) and the launcher that picks it: dist/
// runs when it is current; when it is missing or older than a source, the sources run through tsx and the
// launcher says so on stderr; and the built CLI stands alone: with every source removed, help, version,
// `runs` against Redis, the HCL parser's worker, the passkey page and the whole demo run from dist/.
// Every step works in a copy of the checkout in a temp dir, so the checkout's own dist/ is never touched.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { connectRedis } from '../../src/queue/redis-connection.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { ROOT } from '../support/cli-process.ts';
import { deletePrefix, removeDir, tempDir, testPrefix, writeConfig } from '../support/harness.ts';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A copy of what `npm ci` works on (package.json, the build script, src/, runners/, the engine double), with node_modules linked. */
async function copyCheckout(t: TestContext): Promise<string> {
  const dir = await tempDir('build');
  t.after(() => removeDir(dir));
  for (const part of ['package.json', 'deploy/build.mjs', 'src', 'runners', 'test/doubles']) await cp(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  await symlink(await realpath(path.join(ROOT, 'node_modules')), path.join(dir, 'node_modules'));
  return dir;
}

function run(file: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Result> {
  // Whatever the outer environment says, the launcher decides by itself here.
  const env: Record<string, string | undefined> = { ...process.env, AIRLOCK_FROM_SOURCE: undefined, ...opts.env };
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { cwd: opts.cwd, env, timeout: 150_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const airlock = (dir: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) => run(path.join(dir, 'src/cli/bin.js'), args, opts);

async function build(dir: string): Promise<void> {
  const r = await run(path.join(dir, 'deploy/build.mjs'), []);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /airlock build: \d+ modules and \d+ other files from src\/ to dist/);
}

test('the launcher runs dist/ while it is current, and the sources through tsx, saying why, when it is missing or stale', async (t) => {
  const dir = await copyCheckout(t);

  const missing = await airlock(dir, ['--help']);
  assert.equal(missing.code, 0, missing.stderr);
  assert.match(missing.stdout, /doctor/);
  assert.match(missing.stderr, /^airlock: there is no build in dist\/; running the sources through tsx \(a slower start\)\. Run `npm run build` in .* to fix\.\n$/);

  await build(dir);
  // A marker in the built entry point shows which of the two ran.
  const mainJs = path.join(dir, 'dist/cli/main.js');
  await writeFile(mainJs, `${await readFile(mainJs, 'utf8')}\nprocess.stdout.write('[from dist]\\n');\n`);
  const fresh = await airlock(dir, ['--help']);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.equal(fresh.stderr, '', 'a current build runs quietly');
  assert.match(fresh.stdout, /^\[from dist\]\n[\s\S]*doctor/);

  // An edit after the build makes it stale: the sources run, never the old build.
  const now = new Date();
  await utimes(path.join(dir, 'src/plan/render.ts'), now, now);
  const stale = await airlock(dir, ['--help']);
  assert.equal(stale.code, 0, stale.stderr);
  assert.doesNotMatch(stale.stdout, /from dist/);
  assert.match(stale.stderr, /^airlock: dist\/ is older than src\/plan\/render\.ts; running the sources through tsx .*npm run build/);

  const asked = await airlock(dir, ['--help'], { env: { AIRLOCK_FROM_SOURCE: '1' } });
  assert.equal(asked.code, 0, asked.stderr);
  assert.equal(asked.stderr, '', 'AIRLOCK_FROM_SOURCE=1 runs the sources quietly');
  assert.doesNotMatch(asked.stdout, /from dist/);

  await build(dir);
  const rebuilt = await airlock(dir, ['--help']);
  assert.equal(rebuilt.stderr, '');
  assert.doesNotMatch(rebuilt.stdout, /from dist/, 'the rebuild replaced the marked file');
});

test('the built CLI runs with every source removed: help, version, runs against Redis, the HCL worker, the passkey page, the demo', async (t) => {
  const dir = await copyCheckout(t);
  await build(dir);
  // Only the launcher stays: anything that still needed src/ (or tsx) would fail from here on.
  const launcher = await readFile(path.join(dir, 'src/cli/bin.js'));
  await rm(path.join(dir, 'src'), { recursive: true });
  await mkdir(path.join(dir, 'src/cli'), { recursive: true });
  await writeFile(path.join(dir, 'src/cli/bin.js'), launcher);

  const help = await airlock(dir, ['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.equal(help.stderr, '');
  assert.match(help.stdout, /Usage: airlock/);
  const version = await airlock(dir, ['--version']);
  assert.equal(version.stdout.trim(), (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);

  // `runs` against the real Redis, with runs in it.
  const prefix = testPrefix();
  t.after(() => deletePrefix(prefix));
  const work = await tempDir('build-runs');
  t.after(() => removeDir(work));
  const loaded = await writeConfig({ remoteUrl: 'file:///nonexistent.git', dataDir: path.join(work, 'data'), prefix, sandbox: 'none' });
  const redis = connectRedis(loaded.config.redis.url);
  t.after(() => redis.disconnect());
  const store = new RunStore(redis, prefix);
  const made = [];
  for (const pr of [1, 2]) made.push((await store.create({ repo: 'infra', ref: `refs/pull/${pr}/head`, pr, sha: `${pr}`.repeat(40), workspace: 'default', seenAt: Date.now() })).run);
  const runs = await airlock(dir, ['runs', '--config', loaded.file]);
  assert.equal(runs.code, 0, runs.stderr);
  assert.equal(runs.stderr, '');
  for (const r of made) assert.match(runs.stdout, new RegExp(`^${r.id}\\s+planning\\s+infra/default\\s+PR #${r.pr}`, 'm'));

  // Files that are not TypeScript are found beside the modules that use them.
  const { parseHcl } = (await import(pathToFileURL(path.join(dir, 'dist/guard/hcl-parser.js')).href)) as typeof import('../../src/guard/hcl-parser.ts');
  const parsed = await parseHcl('main.tf', 'resource "terraform_data" "vm" {\n  input = "x"\n}\n');
  assert.deepEqual(Object.keys((parsed['resource'] as Record<string, unknown>) ?? {}), ['terraform_data']);
  const { buildApprovalPage } = (await import(pathToFileURL(path.join(dir, 'dist/approve/passkey/page.js')).href)) as typeof import('../../src/approve/passkey/page.ts');
  assert.match(await buildApprovalPage('https://ntfy.example.invalid'), /<html[\s\S]*ntfy\.example\.invalid/);

  // The README's first run, from the build: watcher, checkout, guard, engine, approval, apply, audit.
  const cwd = await tempDir('build-demo');
  t.after(() => removeDir(cwd));
  const demo = await airlock(dir, ['demo'], { cwd });
  assert.equal(demo.code, 0, `${demo.stdout}\n${demo.stderr}`);
  assert.match(demo.stdout, /apply\.finished/);
  assert.match(demo.stdout, /demo finished: the run was applied\./);
  assert.doesNotMatch(demo.stderr, /tsx/);
});
