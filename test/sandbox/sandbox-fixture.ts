// Engine-level sandbox fixtures: the sandbox settings the suite uses, and a host the test puts in a
// network namespace of its own (iproute2: `ip netns add` and a veth pair), cleaned up afterwards.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { SandboxSettings } from '../../src/sandbox/sandbox.ts';
import { findOnPath } from '../../src/sandbox/host.ts';
import { sandboxConfigForTests, sandboxedTests } from '../support/engine-under-test.ts';

const run = promisify(execFile);

/** The sandbox settings of the suite's runner configs, as the engine adapter takes them. */
export function sandboxSettingsForTests(overrides: Partial<SandboxSettings> = {}, extraReadOnly: string[] = []): SandboxSettings {
  const config = sandboxConfigForTests();
  const readOnlyPaths = config === 'none' ? [] : config.readOnlyPaths;
  return {
    network: 'slirp4netns',
    readOnlyPaths: [...readOnlyPaths, ...extraReadOnly],
    users: { plan: { uid: 64101, gid: 64100 }, apply: { uid: 64102, gid: 64100 }, mirror: { uid: 64101, gid: 64100 } },
    ...overrides,
  };
}

/** Why a test needing its own network namespace cannot run here, or false. */
export async function netnsUnavailable(): Promise<string | false> {
  if (!sandboxedTests()) return 'AIRLOCK_TEST_SANDBOX=none';
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  if (!(await findOnPath('ip'))) return 'needs iproute2 (ip)';
  return false;
}

/**
 * A TCP server on a non-loopback address inside a network namespace the test made itself, reachable from
 * the host through a veth pair: like any host on the runner's network.
 */
export async function hostInItsOwnNamespace(t: TestContext): Promise<{ address: string; port: number }> {
  const id = randomBytes(3).toString('hex');
  const ns = `airlock-t-${id}`;
  const [outer, inner] = [`alo${id}`, `ali${id}`];
  const net = `10.213.${randomBytes(1)[0]! & 0xfc}`;
  const [hostSide, nsSide] = [`${net}.1`, `${net}.2`];
  await run('ip', ['netns', 'add', ns]);
  t.after(() => run('ip', ['netns', 'del', ns]).then(() => undefined, () => undefined));
  await run('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
  await run('ip', ['link', 'set', inner, 'netns', ns]);
  await run('ip', ['addr', 'add', `${hostSide}/30`, 'dev', outer]);
  await run('ip', ['link', 'set', outer, 'up']);
  await run('ip', ['-n', ns, 'addr', 'add', `${nsSide}/30`, 'dev', inner]);
  await run('ip', ['-n', ns, 'link', 'set', inner, 'up']);
  const port = 8000 + (randomBytes(2).readUInt16LE(0) % 1000);
  const code = `require('net').createServer((c) => c.end('hello\\n')).listen(${port}, '${nsSide}', () => console.log('READY'))`;
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    server.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => d.toString().includes('READY') && resolve());
    server.once('exit', (c) => reject(new Error(`the namespace's server exited (${c})`)));
  });
  return { address: nsSide, port };
}

/** A shell script used as engine.binary, in a directory the sandbox may read. */
export async function scriptEngine(t: TestContext, body: string): Promise<{ binary: string; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-script-engine-'));
  await chmod(dir, 0o755);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const binary = path.join(dir, 'engine');
  await writeFile(binary, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return { binary, dir };
}

/** Every live descendant of this process (host pids), from /proc. */
export async function descendants(root = process.pid): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && fields[1]) parents.set(Number(entry), Number(fields[1]));
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of parents) if (parent === pid) {
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}
