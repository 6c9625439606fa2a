// deploy/backup.sh and deploy/restore-drill.sh on a data dir with a real audit chain: the drill passes on a
// good archive, and fails on a tampered chain or when the live state is behind the backup.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeChain } from '../audit/chain-fixture.ts';
import { FROM_SOURCE } from '../support/cli-process.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = path.join(ROOT, 'deploy');
const NO_TAR = !(await run('sh', ['-c', 'command -v tar']).then(() => true, () => false)) && 'tar is not installed';

async function withTemp(t: { after(fn: () => Promise<void>): void }, label: string): Promise<string> {
  const dir = await tempDir(label);
  t.after(() => removeDir(dir));
  return dir;
}

describe('backups', () => {
  it('backup.sh, then the restore drill passes; a tampered chain or a state newer than live fails it', { skip: NO_TAR }, async (t) => {
    const dir = await withTemp(t, 'backup');
    const data = path.join(dir, 'data');
    await mkdir(path.join(data, 'audit'), { recursive: true });
    await mkdir(path.join(data, 'keys'));
    await mkdir(path.join(data, 'jobs/r1'), { recursive: true });
    await mkdir(path.join(data, 'state/infra/default'), { recursive: true });
    await writeChain(path.join(data, 'audit'), 5, 'home');
    await writeFile(path.join(data, 'keys/approval-seal.key'), 'ab'.repeat(32));
    await writeFile(path.join(data, 'jobs/r1/plan.tfplan'), 'plan with values');
    const state = path.join(data, 'state/infra/default/terraform.tfstate');
    await writeFile(state, JSON.stringify({ version: 4, serial: 3, lineage: 'l-1', resources: [] }));
    const env = { ...FROM_SOURCE, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, DATA_DIR: data, DEST: path.join(dir, 'backups'), CONFIG: path.join(dir, 'none.yaml'), AIRLOCK: `${process.execPath} ${path.join(ROOT, 'src/cli/bin.js')}` };
    const archive = (await run('sh', [path.join(DEPLOY, 'backup.sh'), 'home'], { env })).stdout.trim();
    const listing = (await run('tar', ['-tzf', archive])).stdout;
    assert.match(listing, /\.\/state\/infra\/default\/terraform\.tfstate/);
    assert.match(listing, /\.\/audit\/home\.jsonl/);
    assert.doesNotMatch(listing, /jobs/, 'plan files are not backed up');
    const drill = await run('sh', [path.join(DEPLOY, 'restore-drill.sh'), 'home'], { env });
    assert.match(drill.stdout, /drill passed/);
    assert.match(drill.stdout, /ok .*terraform\.tfstate serial 3/);

    // negative controls
    await writeFile(state, JSON.stringify({ version: 4, serial: 2, lineage: 'l-1', resources: [] }));
    await assert.rejects(run('sh', [path.join(DEPLOY, 'restore-drill.sh'), 'home'], { env }), /older than the backup/);
    await writeFile(state, JSON.stringify({ version: 4, serial: 3, lineage: 'l-1', resources: [] }));
    const tampered = path.join(dir, 'tampered');
    await mkdir(tampered);
    await run('tar', ['-C', tampered, '-xzf', archive]);
    const chain = path.join(tampered, 'audit/home.jsonl');
    await writeFile(chain, (await readFile(chain, 'utf8')).replace('record number 2', 'record number 9'));
    const bad = path.join(dir, 'backups/airlock-home-tampered.tar.gz');
    await run('tar', ['-C', tampered, '-czf', bad, '.']);
    await chmod(bad, 0o600);
    await assert.rejects(run('sh', [path.join(DEPLOY, 'restore-drill.sh'), 'home', bad], { env }));
  });
});

