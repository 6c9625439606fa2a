// `airlock doctor`'s look at the engine sandbox: the tools are on PATH, a trivial command really runs in a
// sandbox as each phase's user (so user namespaces, bwrap's mounts and slirp4netns all work here), and the
// provider mirror is readable from inside.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EngineSlice } from './config.ts';
import type { AirlockError } from '../errors.ts';
import { findOnPath } from '../sandbox/host.ts';
import { providerMirrorDir, sandboxSettingsFor, SANDBOX_OFF_WARNING } from './config.ts';
import { createEngine } from './create-engine.ts';

export interface ProbeResult {
  name: string;
  ok: boolean;
  warn?: boolean;
  detail: string;
  fix?: string;
}

const PROBE = `#!/bin/sh
ls "$AIRLOCK_PROBE_MIRROR" >/dev/null 2>&1 && echo "mirror readable" || echo "mirror NOT readable"
echo "uid $(id -u)"
`;

/** Every sandbox check, as doctor lines. */
export async function probeSandbox(config: EngineSlice): Promise<ProbeResult[]> {
  const settings = sandboxSettingsFor(config.engine, config.runner.dataDir);
  if (!settings) return [{ name: 'sandbox', ok: true, warn: true, detail: SANDBOX_OFF_WARNING, fix: 'remove `engine.sandbox: none` from the runner config (install bubblewrap and slirp4netns first)' }];
  const results: ProbeResult[] = [];
  const needsSlirp = config.engine.network === 'slirp4netns' || config.repos.some((r) => r.workspaces.some((w) => w.network === 'slirp4netns'));
  for (const tool of ['bwrap', ...(needsSlirp ? ['slirp4netns'] : []), ...(process.getuid?.() === 0 ? ['setpriv'] : [])]) {
    const found = await findOnPath(tool);
    results.push(found ? { name: tool, ok: true, detail: found } : { name: tool, ok: false, detail: `\`${tool}\` is not on PATH`, fix: tool === 'setpriv' ? 'apt-get install util-linux' : `apt-get install ${tool === 'bwrap' ? 'bubblewrap' : tool}` });
  }
  if (results.some((r) => !r.ok)) return results;

  const scratch = await mkdtemp(path.join(tmpdir(), 'airlock-doctor-sandbox-'));
  try {
    await writeFile(path.join(scratch, 'probe'), PROBE, { mode: 0o755 });
    await chmod(scratch, 0o755);
    const mirror = providerMirrorDir(config.engine, config.runner.dataDir);
    const engine = createEngine({
      kind: config.engine.kind,
      binary: path.join(scratch, 'probe'),
      path: '/usr/bin:/bin',
      env: { AIRLOCK_PROBE_MIRROR: mirror },
      timeouts: { init: 30_000, plan: 30_000, show: 30_000, apply: 30_000, version: 30_000 },
      lockTimeoutMs: 0,
      sandbox: { ...settings, readOnlyPaths: [scratch] },
    });
    for (const phase of ['plan', 'apply'] as const) {
      const lines: string[] = [];
      const cwd = await mkdtemp(path.join(scratch, `${phase}-`));
      const started = performance.now();
      try {
        await engine.init({ cwd, homeDir: path.join(cwd, 'home'), phase, network: needsSlirp ? 'slirp4netns' : 'none', onLine: (l) => lines.push(l) });
        const uid = lines.find((l) => l.startsWith('uid '))?.slice(4) ?? '?';
        results.push({ name: `sandbox (${phase})`, ok: true, detail: `a trivial command ran in a sandbox as uid ${uid}${needsSlirp ? ' with slirp4netns' : ''} in ${Math.round(performance.now() - started)} ms` });
        const readable = lines.includes('mirror readable');
        results.push(readable ? { name: `provider mirror (${phase})`, ok: true, detail: `${mirror} is readable inside` } : { name: `provider mirror (${phase})`, ok: false, detail: `${mirror} is not readable by the ${phase} sandbox user`, fix: `chmod -R a+rX ${mirror}` });
      } catch (err) {
        const e = err as AirlockError;
        results.push({ name: `sandbox (${phase})`, ok: false, detail: e.message, fix: e.hint ?? 'check that unprivileged user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1)' });
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return results;
}
