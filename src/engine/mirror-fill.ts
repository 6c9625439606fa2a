// Filling the provider mirror: a runner-controlled step, never driven by a pull request. The runner writes
// a configuration that requires exactly the allowlisted providers (guard.providers, with their version
// bounds) and runs `init` on it in a sandbox whose only writable provider location is the mirror (as the
// plugin cache, which has the mirror's unpacked layout). Plans then install from the mirror alone.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { EngineSlice } from './config.ts';
import type { GuardConfig } from '../guard/config.ts';
import { hclString } from '../sandbox/provider-mirror.ts';
import { takeBack } from '../sandbox/ownership.ts';
import { providerMirrorDir, sandboxSettingsFor } from './config.ts';
import type { Engine } from './engine.ts';

/** Pure: the Terraform configuration requiring every mirrorable allowlisted provider; wildcards are skipped. */
export function mirrorFillConfig(providers: GuardConfig['providers']): { text: string; mirrored: string[]; skipped: string[] } {
  const mirrored: string[] = [];
  const skipped: string[] = [];
  const lines: string[] = [];
  providers.forEach((p, i) => {
    if (/[*?]/.test(p.source)) {
      skipped.push(p.source);
      return;
    }
    mirrored.push(p.source);
    lines.push(`    p${i} = { source = ${hclString(p.source)}${p.versions ? `, version = ${hclString(p.versions)}` : ''} }`);
  });
  return { text: `# Written by Airlock's mirror fill: the allowlisted providers, nothing else.\nterraform {\n  required_providers {\n${lines.join('\n')}\n  }\n}\n`, mirrored, skipped };
}

/** Pure: the CLI config of the fill step: fetch from the origin only, keep packages in the mirror. */
export function fillCliConfig(origin: string, mirror: string): string {
  const method = origin === 'registry' ? 'direct {}' : origin.startsWith('https://') ? `network_mirror {\n    url = ${hclString(origin)}\n  }` : `filesystem_mirror {\n    path = ${hclString(origin)}\n  }`;
  return `plugin_cache_dir = ${hclString(mirror)}\nprovider_installation {\n  ${method}\n}\n`;
}

/** Fill the mirror with the allowlisted providers; resolves either way (a failure is logged, plans then fail at init). */
export async function fillProviderMirror(config: EngineSlice, engine: Engine, log: Logger): Promise<{ filled: string[] }> {
  const { fill, origin } = config.engine.providers;
  const settings = sandboxSettingsFor(config.engine, config.runner.dataDir);
  const plan = mirrorFillConfig(config.guard.providers);
  if (fill === 'never' || plan.mirrored.length === 0) return { filled: [] };
  if (plan.skipped.length > 0) log.warn({ skipped: plan.skipped }, 'provider allowlist entries with wildcards cannot be mirrored automatically; fill the mirror with them by hand');
  const mirror = providerMirrorDir(config.engine, config.runner.dataDir);
  const scratch = await mkdtemp(path.join(config.runner.dataDir, 'mirror-fill-'));
  try {
    const work = path.join(scratch, 'work');
    const home = path.join(scratch, 'home');
    await mkdir(work, { mode: 0o700 });
    await mkdir(home, { mode: 0o700 });
    await writeFile(path.join(work, 'providers.tf'), plan.text, { mode: 0o600 });
    const started = performance.now();
    await engine.init({
      cwd: work,
      homeDir: home,
      phase: 'mirror',
      writable: [work, home, mirror],
      readOnly: origin.startsWith('/') ? [{ source: origin, dest: origin }] : [],
      network: origin.startsWith('/') ? 'none' : settings?.network,
      cliConfig: fillCliConfig(origin, mirror),
      onLine: (line) => log.debug({ engine: line }, 'mirror fill output'),
    });
    log.info({ providers: plan.mirrored, mirror, durationMs: Math.round(performance.now() - started) }, 'provider mirror filled');
    return { filled: plan.mirrored };
  } catch (err) {
    log.error({ err, mirror }, 'filling the provider mirror failed; plans needing a missing provider will fail at init');
    return { filled: [] };
  } finally {
    if (settings) await takeBack(mirror).catch((err: unknown) => log.error({ err, mirror }, 'could not take the provider mirror back from the sandbox user'));
    await rm(scratch, { recursive: true, force: true });
  }
}
