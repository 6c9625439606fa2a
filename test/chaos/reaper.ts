// What the campaign starts (runner processes, redis-servers, tmpfs mounts) is taken down when it ends,
// however it ends: a campaign stopped with Ctrl-C or killed by its --minutes bound must not leave runners,
// servers or mounts behind on a shared host.
import { execFileSync, type ChildProcess } from 'node:child_process';
import type { SmallDisk } from '../support/small-disk.ts';

const mounted = new Set<SmallDisk>();
const children = new Set<ChildProcess>();

export function trackMount(disk: SmallDisk): SmallDisk {
  mounted.add(disk);
  const unmount = disk.unmount.bind(disk);
  disk.unmount = async () => {
    mounted.delete(disk);
    await unmount();
  };
  return disk;
}

export function trackChild(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const disk of mounted) {
    try {
      execFileSync('umount', ['-l', disk.dir], { stdio: 'ignore' });
    } catch {
      // gone already
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
