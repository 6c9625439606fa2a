// What the demo needs around the runner: a Redis, an engine, and a "remote" repo with an agent's PR.
import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants as fsConstants, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { simpleGit } from 'simple-git';
import type { RunnerConfig } from '../config/schema.ts';
import { probeSandbox } from '../engine/sandbox-probe.ts';

export const ENGINE_DOUBLE = fileURLToPath(new URL('../../test/doubles/terraform-double.mjs', import.meta.url));

/** terraform or tofu from PATH, or null. */
export async function findRealEngine(): Promise<{ kind: 'terraform' | 'tofu'; binary: string } | null> {
  for (const kind of ['tofu', 'terraform'] as const) {
    for (const dir of (process.env['PATH'] ?? '').split(':').filter(Boolean)) {
      const binary = path.join(dir, kind);
      if (await access(binary, fsConstants.X_OK).then(() => true, () => false)) return { kind, binary };
    }
  }
  return null;
}

export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** A TCP port nothing listens on now, on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Start a throwaway redis-server on a free loopback port, keeping nothing on disk. */
export async function startPrivateRedis(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve());
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(url)); i++) await new Promise((r) => setTimeout(r, 100));
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

const DEMO_TF = `# Managed by an AI agent; planned and applied by Airlock.
resource "terraform_data" "dns_record" {
  input = "lab.example.internal -> 10.0.0.10"
}

resource "terraform_data" "vm" {
  input = { name = "k3s-worker-1", memory = 4096 }
}
`;

/** A bare "remote" with a default branch and an agent's pull request at refs/pull/1/head. */
export async function makeDemoRemote(root: string): Promise<{ url: string; sha: string }> {
  const bare = path.join(root, 'remote.git');
  const work = path.join(root, 'agent-work');
  await mkdir(bare, { recursive: true });
  await mkdir(work, { recursive: true });
  await simpleGit(bare).init(true);
  const git = simpleGit({ baseDir: work, config: ['user.name=infra-agent', 'user.email=agent@example.invalid', 'commit.gpgsign=false'] });
  await git.init();
  await writeFile(path.join(work, 'README.md'), '# lab infra\n');
  await git.add('.').commit('initial');
  await git.addRemote('origin', `file://${bare}`);
  await git.push('origin', 'HEAD:refs/heads/main');
  await git.checkoutLocalBranch('agent/add-vm');
  await writeFile(path.join(work, 'main.tf'), DEMO_TF);
  await git.add('.').commit('Add a DNS record and a k3s worker VM');
  const sha = (await git.revparse(['HEAD'])).trim();
  await git.push('origin', 'HEAD:refs/heads/agent/add-vm');
  // What a forge does when the PR is opened:
  await git.push('origin', 'HEAD:refs/pull/1/head');
  return { url: `file://${bare}`, sha };
}

/**
 * The demo uses the engine sandbox when this machine can run one; when it cannot, it says so in one line
 * and runs without it (only the demo may: a runner fails closed). With the double, the sandbox must see
 * the double's directory (and node, when it lives outside /usr).
 */
export async function demoSandbox(config: RunnerConfig, usesDouble: boolean): Promise<string> {
  if (config.engine.sandbox === 'none') return 'sandbox: off (engine.sandbox: none in the demo config)';
  if (usesDouble) {
    const node = path.dirname(path.dirname(process.execPath));
    config.engine.sandbox = { ...config.engine.sandbox, readOnlyPaths: [...config.engine.sandbox.readOnlyPaths, path.dirname(ENGINE_DOUBLE), ...(node.startsWith('/usr') ? [] : [node])] };
  }
  const failed = (await probeSandbox(config)).find((c) => !c.ok);
  if (!failed) return 'sandbox: bwrap + slirp4netns: every engine process runs in its own namespaces, as a runner would';
  config.engine.sandbox = 'none';
  return `sandbox: unavailable here (${failed.name}: ${failed.detail.split('\n')[0]}); the demo runs the engine WITHOUT it (a runner would refuse to plan)`;
}
