// The campaign's tmpfs mounts, unmounted when it ends however it ends (a crashed campaign must not leave
// mounts behind on a shared host).
import { execFileSync } from 'node:child_process';
import type { SmallDisk } from '../support/small-disk.ts';

const mounted = new Set<SmallDisk>();

export function trackMount(disk: SmallDisk): SmallDisk {
  mounted.add(disk);
  const unmount = disk.unmount.bind(disk);
  disk.unmount = async () => {
    mounted.delete(disk);
    await unmount();
  };
  return disk;
}

process.once('exit', () => {
  for (const disk of mounted) {
    try {
      execFileSync('umount', ['-l', disk.dir], { stdio: 'ignore' });
    } catch {
      // gone already
    }
  }
});
