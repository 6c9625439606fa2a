// The backend a workspace plans and applies with is the runner's, never the repository's: it is written
// as an override file that terraform and tofu read after every other file.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The runner's backend, written as an override file so that nothing in the repo can choose it. */
export async function writeBackendOverride(cwd: string, backend: { type: string; config: Record<string, unknown> }): Promise<void> {
  if (backend.type === 'local' && typeof backend.config['path'] === 'string') {
    await mkdir(path.dirname(backend.config['path']), { recursive: true, mode: 0o700 });
  }
  const body = { terraform: { backend: { [backend.type]: backend.config } } };
  await writeFile(path.join(cwd, 'airlock_backend_override.tf.json'), `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
}
