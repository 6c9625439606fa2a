// What the guard needs to know about a workspace from the runner config: its allowlists, the engine's
// registry, the root module's directory, and the variables the runner injects (TF_VAR_* from engine.env
// and the workspace's credentials), which the repository may not set and, for apply time, must be ephemeral.
import type { GuardConfig } from './config.ts';
import type { GuardOptions } from './guard.ts';

const TF_VAR = /^TF_VAR_(.+)$/i;

type Identity = 'none' | { secrets: Record<string, unknown> };

/** What the guard reads from the runner config; the whole runner config satisfies it. */
export interface GuardSlice {
  guard: GuardConfig;
  engine: { kind: 'terraform' | 'tofu'; env: Record<string, unknown> };
  repos: ReadonlyArray<{
    name: string;
    workspaces: ReadonlyArray<{ name: string; dir: string; credentials: 'none' | { plan: Identity; apply: 'none' | { ephemeral: Record<string, unknown> } } }>;
  }>;
}

/** The guard options for one workspace of the runner config. */
export function guardOptionsFor(config: GuardSlice, run: { repo: string; workspace: string }): GuardOptions {
  const ws = config.repos.find((r) => r.name === run.repo)?.workspaces.find((w) => w.name === run.workspace);
  const creds = ws?.credentials ?? 'none';
  const names = (env: Record<string, unknown>) => Object.keys(env).flatMap((k) => TF_VAR.exec(k)?.[1] ?? []);
  const applyTime = creds !== 'none' && creds.apply !== 'none' ? Object.keys(creds.apply.ephemeral) : [];
  const injected = [...names(config.engine.env), ...(creds !== 'none' && creds.plan !== 'none' ? names(creds.plan.secrets) : []), ...applyTime];
  return {
    config: config.guard,
    engineKind: config.engine.kind,
    workDir: ws?.dir ?? '.',
    injectedVariables: [...new Set(injected)].sort(),
    applyTimeVariables: applyTime,
  };
}
