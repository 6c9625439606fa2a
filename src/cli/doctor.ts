// `airlock doctor`: one line per check, each failure with the fix. Exit 1 when anything is wrong.
import { checkNtfy } from '../approve/ntfy/doctor.ts';
import { checkForges } from '../report/doctor.ts';
import { readTokenFile, resolveTokenFile } from '../approve/token-files.ts';
import { checkTraces } from '../trace/doctor.ts';
import { scrubber } from '../log/scrub.ts';
import { checkRedis } from '../queue/redis-doctor.ts';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { checkVault } from '../credentials/doctor-checks.ts';
import { createEngine } from '../engine/engine.ts';
import { AirlockError } from '../errors.ts';
import { checkDataDir as checkRunnerDataDir } from '../runner/preflight.ts';
import { checkRedisData } from '../runner/data-loss-doctor.ts';
import { existsSync } from 'node:fs';
import { spaceProblem } from '../audit/audit-log.ts';
import { runnerPaths } from '../run/paths.ts';
import { engineSpecFor } from '../engine/spec.ts';
import { probeSandbox } from '../engine/sandbox-probe.ts';
import { listRemoteHeads, maskUrl } from '../watch/ls-remote.ts';
import type { Output } from './output.ts';
import type { Check } from '../lib/check.ts';

export type { Check };

type CheckFn = (loaded: LoadedConfig) => Promise<Check[]>;

async function checkDataDir({ config }: LoadedConfig): Promise<Check[]> {
  try {
    const detail = await checkRunnerDataDir(config.runner.dataDir);
    // A chain that cannot take records stops every decision (invariant 6 of the fault campaign).
    const auditDir = runnerPaths(config.runner.dataDir).auditDir;
    const problem = await spaceProblem(existsSync(auditDir) ? auditDir : config.runner.dataDir);
    return [
      { name: 'data dir', ok: true, detail },
      problem
        ? { name: 'audit dir', ok: false, detail: `${auditDir}: ${problem}; the runner pauses plans, decisions and applies until records can be written`, fix: 'free space on that file system (or remount it read-write); the runner resumes by itself' }
        : { name: 'audit dir', ok: true, detail: `${auditDir}: writable, with room for records` },
    ];
  } catch (err) {
    return [failed('data dir', err)];
  }
}

/** A failed check from a coded error: its message, and its hint as the fix. */
function failed(name: string, err: unknown): Check {
  return { name, ok: false, detail: (err as Error).message, fix: (err as AirlockError).hint };
}

async function checkEngine({ config }: LoadedConfig): Promise<Check[]> {
  try {
    const spec = await engineSpecFor(config);
    const version = await createEngine(spec).version();
    return [{ name: 'engine', ok: true, detail: `${spec.binary}: ${version.kind} ${version.version}` }];
  } catch (err) {
    const e = err as AirlockError;
    return [{ name: 'engine', ok: false, detail: e.message, fix: e.hint ?? 'set `engine.binary` to the absolute path of terraform or tofu' }];
  }
}

async function checkRepos({ config }: LoadedConfig): Promise<Check[]> {
  if (config.repos.length === 0) return [{ name: 'repos', ok: true, warn: true, detail: 'no repos configured; the runner will watch nothing', fix: 'add an entry under `repos:`' }];
  return Promise.all(
    config.repos.map(async (repo): Promise<Check> => {
      try {
        const heads = await listRemoteHeads(repo.url, repo.refs, { timeoutMs: 15_000 });
        return { name: `repo ${repo.name}`, ok: true, detail: `${maskUrl(repo.url)}: ${heads.length} matching head(s), ${repo.workspaces.length} workspace(s)` };
      } catch (err) {
        return { name: `repo ${repo.name}`, ok: false, detail: (err as Error).message, fix: 'check the URL and the runner\'s read access (deploy key)' };
      }
    }),
  );
}

async function checkApplies({ config }: LoadedConfig): Promise<Check[]> {
  return [
    config.applies.enabled
      ? { name: 'applies', ok: true, detail: `enabled; approvals via ${config.approval.channel}, expiring after ${config.approval.ttl / 60000} min` }
      : { name: 'applies', ok: true, warn: true, detail: 'disabled: plans run and are reported, nothing is applied', fix: 'set `applies.enabled: true` when you are ready' },
  ];
}

async function checkSandbox({ config }: LoadedConfig): Promise<Check[]> {
  return probeSandbox(config);
}

/** The OTLP endpoint, when traces are configured: its header files, and an empty export it must take. */
function checkTraceExport(loaded: LoadedConfig): Promise<Check[]> {
  return checkTraces(loaded.config.traces, { readSecret: (file, what) => readTokenFile(resolveTokenFile(file, loaded.file), scrubber, what), scrub: (text) => scrubber.scrubString(text) });
}

const CHECKS: CheckFn[] = [checkDataDir, checkRedis, (loaded) => checkRedisData(loaded), checkSandbox, checkEngine, checkRepos, checkApplies, checkNtfy, checkVault, (loaded) => checkForges(loaded, scrubber), checkTraceExport];

/** Run every check against a config file. */
export async function runDoctor(configFile: string): Promise<Check[]> {
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig(configFile);
  } catch (err) {
    const e = err as AirlockError;
    return [{ name: 'config', ok: false, detail: e.message, fix: e.hint }];
  }
  const results: Check[] = [{ name: 'config', ok: true, detail: `${configFile} is valid` }];
  for (const check of CHECKS) results.push(...(await check(loaded)));
  return results;
}

export function renderChecks(checks: Check[], output: Output): number {
  for (const c of checks) {
    const mark = !c.ok ? '✖' : c.warn ? '!' : '✔';
    output.out(`${mark} ${c.name}: ${c.detail}`);
    if ((!c.ok || c.warn) && c.fix) output.out(`    fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  output.out(failed === 0 ? 'all checks passed' : `${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}
