// Negative controls: deliberate breakage that the checks must report, proving they can fail.
// - duplicate-apply: the plan file of the first apply is given to the engine's apply a second time;
// - unapproved-apply: the plan file of a run nobody approved is given to the engine's apply;
// - tamper-audit: one byte of a runner's chain is changed after the iteration;
// - lose-run: the only runner is killed during a plan and never started again (scenario.ts).
// Each rogue apply runs the real engine double, with the same invocation log the runners' engines write.
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Run } from '../../src/run/run.ts';
import { DOUBLE } from '../support/engine-under-test.ts';
import { sleep, type World } from './world.ts';

/** Give `planFile` to the double's `apply` in a scratch directory; its invocation lands in the world's log. */
async function rogueApply(world: World, planFile: string): Promise<void> {
  const dir = await mkdtemp(path.join(world.root, 'rogue-'));
  await copyFile(planFile, path.join(dir, 'plan.tfplan'));
  const child = spawn(process.execPath, [DOUBLE, 'apply', '-input=false', 'plan.tfplan'], {
    cwd: dir,
    env: { PATH: process.env['PATH'] ?? '', AIRLOCK_DOUBLE_LOG: world.invocationLog },
    stdio: 'ignore',
  });
  await new Promise((r) => child.once('exit', r));
  world.notes.push(`break: rogue apply of ${path.basename(path.dirname(planFile))}`);
}

/** Arm the breaks that act while the iteration runs; returns a promise for their end. */
export function armBreaks(world: World): Promise<void> {
  const tasks: Array<Promise<void>> = [];
  world.driver.approveAll = world.scenario.breaks.length > 0;
  if (world.scenario.breaks.includes('duplicate-apply')) {
    tasks.push(
      (async () => {
        for (let i = 0; i < 600; i++) {
          const inv = (await world.invocations('apply')).find((a) => a.planFile && world.slotOf(a.cwd));
          if (inv) {
            // The double sleeps before it applies: the file is still there to copy.
            const copy = path.join(world.root, 'dup.tfplan');
            await writeFile(copy, await readFile(inv.planFile!));
            await rogueApply(world, copy);
            return;
          }
          await sleep(50);
        }
      })(),
    );
  }
  if (world.scenario.breaks.includes('unapproved-apply')) {
    let done: () => void;
    tasks.push(new Promise<void>((r) => (done = r)));
    let taken = false;
    world.driver.intercept = (run: Run) => {
      if (taken) return false;
      const slot = world.slots.find((s) => s.id === run.plan?.runnerId);
      if (!slot) return false;
      taken = true;
      void rogueApply(world, path.join(slot.dataDir, 'jobs', run.id, 'plan.tfplan')).finally(() => done());
      return true;
    };
    setTimeout(() => done(), 120_000).unref();
  }
  return Promise.all(tasks).then(() => undefined);
}

/** After the iteration: change one byte in the middle of a runner chain's first record. */
export async function tamperAudit(world: World): Promise<void> {
  for (const slot of world.slots) {
    const dir = path.join(slot.dataDir, 'audit');
    const chain = (await readdir(dir).catch(() => [] as string[])).find((n) => n.endsWith('.jsonl') && !n.endsWith('-cli.jsonl'));
    if (!chain) continue;
    const file = path.join(dir, chain);
    const text = await readFile(file, 'utf8');
    const at = text.indexOf('"time":"') + 10;
    const digit = text[at] === '9' ? '8' : String.fromCharCode(text.charCodeAt(at) + 1);
    await writeFile(file, text.slice(0, at) + digit + text.slice(at + 1));
    world.notes.push(`break: tampered ${slot.id}/${chain}`);
    return;
  }
}
