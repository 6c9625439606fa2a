// Outbound network for a sandbox: slirp4netns gives its network namespace a NAT'd tap0 (10.0.2.100/24,
// DNS at 10.0.2.3) with the host's loopback disabled, so Redis, a Vault agent or anything else listening
// on 127.0.0.1 of the runner host stays out of reach. It is the only networking code; it uses
// node:child_process, not execa, which stays the engine adapter's alone.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { SandboxStartError } from './errors.ts';

export interface RunningNetwork {
  stop(): void;
}

const READY_TIMEOUT_MS = 10_000;

/**
 * Start slirp4netns for the namespace of `pid` and wait until tap0 is configured. `inUserNamespace`: the
 * sandbox has its own user namespace (a non-root runner), which slirp4netns must join to reach its network.
 */
export async function startSlirp(slirp4netns: string, pid: number, inUserNamespace: boolean): Promise<RunningNetwork> {
  // fd 3: slirp writes "1" when ready. fd 4: held open by us; slirp exits when it closes (the runner died).
  const userns = inUserNamespace ? [`--userns-path=/proc/${pid}/ns/user`] : [];
  const child = spawn(slirp4netns, ['--configure', '--mtu=65520', '--disable-host-loopback', '--ready-fd', '3', '--exit-fd', '4', ...userns, String(pid), 'tap0'], {
    // It needs nothing of the runner's environment, which may hold the runner's own secrets.
    env: {},
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SandboxStartError(`slirp4netns did not configure the network within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      (child.stdio[3] as Readable).once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new SandboxStartError(`slirp4netns could not be started: ${err.message}`, err));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new SandboxStartError(`slirp4netns exited (${code ?? signal}) before the network was up: ${stderr.trim().split('\n').slice(-3).join(' ')}`));
      });
    });
  } catch (err) {
    stop();
    throw err;
  }
  child.removeAllListeners('exit');
  return { stop };
}
