// A run's workspace in the runner config: its repo entry, its backend, its shared state directory and its
// engine network. The jobs and the runner wiring read a workspace's settings through these.
import path from 'node:path';
import { AirlockError } from '../errors.ts';
import type { RunnerPaths } from '../run/paths.ts';
import type { Run } from '../run/run.ts';
import type { NetworkMode } from '../sandbox/sandbox.ts';
import type { RunnerConfig } from './schema.ts';

export function repoOf(config: RunnerConfig, run: Pick<Run, 'repo'>) {
  const repo = config.repos.find((r) => r.name === run.repo);
  if (!repo) throw new AirlockError('airlock:repo-unknown', `repo ${JSON.stringify(run.repo)} is no longer in the runner config`);
  return repo;
}

export function workspaceOf(config: RunnerConfig, run: Pick<Run, 'repo' | 'workspace'>) {
  const ws = repoOf(config, run).workspaces.find((w) => w.name === run.workspace);
  if (!ws) throw new AirlockError('airlock:workspace-unknown', `workspace ${JSON.stringify(run.workspace)} is no longer in the runner config`);
  return ws;
}

/** The pinned backend for a run's workspace; a local backend keeps state under the data dir. */
export function backendFor(config: RunnerConfig, paths: RunnerPaths, run: Pick<Run, 'repo' | 'workspace'>) {
  const backend = workspaceOf(config, run).backend ?? config.backend;
  if (backend.type === 'local' && backend.config['path'] === undefined) {
    return { type: 'local', config: { ...backend.config, path: paths.stateFile(run.repo, run.workspace) } };
  }
  return backend;
}

/** Directories plans and applies both write: a local backend's state directory. */
export function sharedDirsFor(config: RunnerConfig, paths: RunnerPaths, run: Pick<Run, 'repo' | 'workspace'>): string[] {
  const backend = backendFor(config, paths, run);
  const statePath = backend.config['path'];
  return backend.type === 'local' && typeof statePath === 'string' && path.isAbsolute(statePath) ? [path.dirname(statePath)] : [];
}

/** The engine network of a run's workspace. */
export function networkFor(config: RunnerConfig, run: Pick<Run, 'repo' | 'workspace'>): NetworkMode {
  return workspaceOf(config, run).network ?? config.engine.network;
}
