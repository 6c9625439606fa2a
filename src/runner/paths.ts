// Where a runner keeps things under its data directory. Everything here is 0700/0600.
import path from 'node:path';

/** Path helpers for one runner's data directory. */
export function runnerPaths(dataDir: string) {
  return {
    dataDir,
    mirror: (repo: string) => path.join(dataDir, 'mirrors', `${repo}.git`),
    jobsDir: path.join(dataDir, 'jobs'),
    job: (runId: string) => {
      const dir = path.join(dataDir, 'jobs', runId);
      return {
        dir,
        tree: path.join(dir, 'tree'),
        home: path.join(dir, 'home'),
        planFile: path.join(dir, 'plan.tfplan'),
        planJson: path.join(dir, 'plan.json'),
        planLog: path.join(dir, 'plan.log'),
        applyLog: path.join(dir, 'apply.log'),
      };
    },
    stateFile: (repo: string, workspace: string) => path.join(dataDir, 'state', repo, workspace, 'terraform.tfstate'),
    auditDir: path.join(dataDir, 'audit'),
  };
}

export type RunnerPaths = ReturnType<typeof runnerPaths>;
