// A runner that is not root: bwrap makes an unprivileged user namespace and the engine runs as the
// runner's own uid inside it (the sandbox users of the config are for root runners only). Played here
// by a process the test starts as an unprivileged uid.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sandboxedTests } from '../support/engine-under-test.ts';

const RUNNER = fileURLToPath(new URL('./fixtures/run-as-runner.ts', import.meta.url));
const UID = 64200;
const skip = (!sandboxedTests() && 'AIRLOCK_TEST_SANDBOX=none') || (process.getuid?.() !== 0 && 'needs root to start a process as another uid');

test('a non-root runner: the engine runs as the runner\'s uid in a user namespace, sees no host process and no Redis', { skip }, async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'airlock-nonroot-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await chmod(root, 0o755);
  await chown(root, UID, UID);
  const probe = path.join(root, 'probe');
  await writeFile(probe, '#!/bin/sh\necho "uid $(id -u)"\n(exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && echo "redis reached" || echo "redis blocked"\necho "processes $(ls /proc | grep -c "^[0-9]")"\n', { mode: 0o755 });
  const { stdout } = await promisify(execFile)('setpriv', [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', process.execPath, '--import', 'tsx', RUNNER, root, probe, 'none'], {
    env: { PATH: '/usr/bin:/bin', HOME: root },
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  assert.doesNotMatch(stdout, /ERROR/, stdout);
  assert.match(stdout, new RegExp(`^uid ${UID}$`, 'm'), 'the runner\'s own uid, not a sandbox user of the config');
  assert.match(stdout, /^redis blocked$/m);
  const processes = Number(/^processes (\d+)$/m.exec(stdout)?.[1]);
  // The probe and its own pipeline, nothing of the host (which has hundreds).
  assert.ok(processes > 0 && processes < 10, `its own PID namespace: ${processes} processes visible`);
});
