// Firing a round's faults in order, each at its phase of a run's life: a kill (SIGKILL or SIGTERM) of the
// runner doing that step, then a restart of it, of another runner id, or only at the end; a Redis crash
// and restart; a force-push during a plan; the engine dying (its state lock left behind) or hanging; Vault
// sealed, down or slow while a decision is given; the ntfy streams dropping; a runner's audit disk filling
// up for a while. A phase that is not reached in time skips the fault.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Run } from '../../src/run/run.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { hostPidOf } from './support.ts';
import { keyed } from './rng.ts';
import type { RunnerSlot } from './runner-slots.ts';
import { faultLabel, type Fault, type Phase } from './scenario.ts';
import { sleep, type Invocation, type World } from './world.ts';

// Long enough for a phase to come on a loaded host.
const TRIGGER_MS = 45_000;

/** Once the world has been settled this long, a phase that has not come will not come: the fault is skipped. */
const IDLE_MS = 3000;

/**
 * Poll `check` every `everyMs` until it returns a value, or null after `ms` or once `world` has been
 * settled (every head final or waiting, nothing left to decide) for IDLE_MS.
 */
async function poll<T>(check: () => Promise<T | null | undefined>, ms = TRIGGER_MS, everyMs = 20, world?: World): Promise<T | null> {
  const deadline = Date.now() + ms;
  let idleSince: number | null = null;
  let lastLook = 0;
  while (Date.now() < deadline) {
    const v = await check().catch(() => null);
    if (v !== null && v !== undefined) return v;
    if (world && Date.now() - lastLook > 500) {
      lastLook = Date.now();
      const runs = await world.driver.snapshot();
      idleSince = runs && world.settled(runs) ? (idleSince ?? Date.now()) : null;
      if (idleSince !== null && Date.now() - idleSince > IDLE_MS) return null;
    }
    await sleep(everyMs);
  }
  return null;
}

/** The next engine invocation of `command` by a live runner, once it appears. */
async function nextInvocation(world: World, command: 'plan' | 'apply'): Promise<{ inv: Invocation; slot: RunnerSlot } | null> {
  const before = (await world.invocations(command)).length;
  return poll(async () => {
    for (const inv of (await world.invocations(command)).slice(before)) {
      const slot = world.slotOf(inv.cwd);
      if (slot?.alive) return { inv, slot };
    }
    return null;
  }, TRIGGER_MS, 20, world);
}

/** Wait for `phase` to be under way and return the runner doing it (or any live one for `now`). */
async function reach(world: World, phase: Phase | 'now', index: number): Promise<RunnerSlot | null> {
  const alive = () => world.slots.filter((s) => s.alive);
  if (phase === 'now') return alive()[0] ?? null;
  if (phase === 'plan' || phase === 'apply') return (await nextInvocation(world, phase))?.slot ?? null;
  if (phase === 'checkout') {
    // A new PR head: the runner that makes its job directory is checking it out.
    const sha = await world.push(world.newPr());
    const id = deriveRunId('infra', 'default', sha);
    return poll(async () => world.slots.find((s) => s.alive && existsSync(path.join(s.dataDir, 'jobs', id))), TRIGGER_MS, 10);
  }
  if (phase === 'audit') {
    const before = await world.chainSizes();
    return poll(async () => {
      for (const [file, { slot, size }] of await world.chainSizes()) {
        if (slot.alive && size > (before.get(file)?.size ?? 0)) return slot;
      }
      return null;
    }, TRIGGER_MS, 10, world);
  }
  // decision: the runner that planned a run, while that run's decision is being given.
  const delayMs = Math.floor(keyed(world.scenario.seed, `decision-delay:${index}`) * 400);
  let chosen: RunnerSlot | null = null;
  world.driver.onDeciding = (run: Run) => {
    const slot = world.slots.find((s) => s.id === run.plan?.runnerId && s.alive);
    if (!slot) return;
    world.driver.onDeciding = null;
    chosen = slot;
  };
  const slot = await poll(async () => chosen, TRIGGER_MS, 20, world);
  world.driver.onDeciding = null;
  if (slot) await sleep(delayMs);
  return slot;
}

async function kill(world: World, fault: Extract<Fault, { kind: 'kill' }>, slot: RunnerSlot): Promise<void> {
  await slot.kill(fault.signal);
  if (world.scenario.breaks.includes('lose-run')) {
    world.abandoned.add(slot.id);
    return;
  }
  if (fault.restart === 'later') return;
  await sleep(fault.restartDelayMs);
  // `other`: a runner with another id takes over the queue on the same Redis; the killed one comes back at the end.
  const next = fault.restart === 'same' ? slot : await world.otherSlot(slot);
  if (!next.alive && !(await next.start())) world.notes.push(`${next.id} did not start after a kill`);
}

/** The engine process of an invocation dies (SIGKILL: a state lock it held stays behind) or hangs (SIGSTOP). */
async function hurtEngine(world: World, fault: Extract<Fault, { kind: 'engine' }>): Promise<boolean> {
  const found = await nextInvocation(world, fault.phase);
  if (!found) return false;
  const pid = await hostPidOf(found.inv).catch(() => null);
  if (pid === null) return false; // it ended before it could be hurt
  process.kill(pid, fault.what === 'kill' ? 'SIGKILL' : 'SIGSTOP');
  world.notes.push(`engine ${fault.what} of ${fault.phase} in ${found.slot.id}`);
  return true;
}

async function hurtVault(world: World, fault: Extract<Fault, { kind: 'vault' }>, index: number): Promise<boolean> {
  const double = world.vault?.under.double;
  if (!double || !(await reach(world, 'decision', index))) return false;
  if (fault.what === 'sealed') double.seal();
  else if (fault.what === 'down') await double.pause();
  else double.delayMs = 3000;
  await sleep(fault.forMs);
  if (fault.what === 'sealed') double.unseal();
  else if (fault.what === 'down') await double.resume();
  else double.delayMs = 0;
  return true;
}

async function fillDisk(world: World, fault: Extract<Fault, { kind: 'disk-full' }>, index: number): Promise<boolean> {
  const slot = await reach(world, fault.phase, index);
  if (!slot?.disk) return false;
  const from = Date.now();
  await slot.disk.fill();
  await sleep(fault.forMs);
  await slot.disk.free();
  world.fullDisks.push({ slot: slot.id, from, to: Date.now() });
  return true;
}

/** Fire `fault`; true if it fired, false if its phase was not reached. */
export async function fire(world: World, fault: Fault, index: number): Promise<boolean> {
  const label = faultLabel(fault, world.spec);
  let fired = true;
  switch (fault.kind) {
    case 'force-push': {
      if (!(await reach(world, 'plan', index))) fired = false;
      else {
        const prs = [...world.heads.keys()];
        await world.push(prs[Math.floor(keyed(world.scenario.seed, `force-push:${index}`) * prs.length)]!);
      }
      break;
    }
    case 'redis-restart': {
      if (!world.redis || (fault.phase !== 'now' && !(await reach(world, fault.phase, index)))) fired = false;
      else {
        await world.redis.crash();
        if (world.spec.redis === 'none') world.wipes.push(Date.now());
        await sleep(fault.downMs);
        await world.redis.start();
      }
      break;
    }
    case 'kill': {
      const slot = await reach(world, fault.phase, index);
      if (!slot) fired = false;
      else await kill(world, fault, slot);
      break;
    }
    case 'engine':
      fired = await hurtEngine(world, fault);
      break;
    case 'vault':
      fired = await hurtVault(world, fault, index);
      break;
    case 'ntfy-drop':
      if (!world.ntfy?.double || !(await reach(world, 'decision', index))) fired = false;
      else world.ntfy.double.dropConnections();
      break;
    case 'disk-full':
      fired = await fillDisk(world, fault, index);
      break;
  }
  (fired ? world.fired : world.skipped).push(label);
  return fired;
}
