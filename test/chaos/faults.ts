// Firing a scenario's faults in order, each at its phase of a run's life: a kill (SIGKILL or SIGTERM) of
// the runner doing that step, then a restart of it, of another runner id, or only at the end; a Redis
// crash and restart; a force-push during a plan. A phase that is not reached in time skips the fault.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Run } from '../../src/run/run.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { keyed } from './rng.ts';
import type { RunnerSlot } from './runner-slots.ts';
import { faultLabel, type Fault, type Phase } from './scenario.ts';
import { sleep, type World } from './world.ts';

// Long enough for a phase to come on a loaded host (start-up under tsx alone took 10–30 s there).
const TRIGGER_MS = 60_000;

/** Poll `check` every `everyMs` until it returns a value, or null after `ms`. */
async function poll<T>(check: () => Promise<T | null | undefined>, ms = TRIGGER_MS, everyMs = 20): Promise<T | null> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await check().catch(() => null);
    if (v !== null && v !== undefined) return v;
    await sleep(everyMs);
  }
  return null;
}

/** Wait for `phase` to be under way and return the runner doing it (or any live one for `now`). */
async function reach(world: World, phase: Phase | 'now', index: number): Promise<RunnerSlot | null> {
  const alive = () => world.slots.filter((s) => s.alive);
  if (phase === 'now') return alive()[0] ?? null;
  if (phase === 'plan' || phase === 'apply') {
    const before = (await world.invocations(phase)).length;
    return poll(async () => {
      const fresh = (await world.invocations(phase)).slice(before);
      for (const inv of fresh) {
        const slot = world.slotOf(inv.cwd);
        if (slot?.alive) return slot;
      }
      return null;
    });
  }
  if (phase === 'checkout') {
    // A new PR head: the runner that makes its job directory is checking it out.
    const sha = await world.push(Math.max(0, ...world.heads.keys()) + 1);
    const id = deriveRunId('infra', 'default', sha);
    return poll(async () => world.slots.find((s) => s.alive && existsSync(path.join(s.dataDir, 'jobs', id))), TRIGGER_MS, 5);
  }
  if (phase === 'audit') {
    const before = await world.chainSizes();
    return poll(async () => {
      for (const [file, { slot, size }] of await world.chainSizes()) {
        if (slot.alive && size > (before.get(file)?.size ?? 0)) return slot;
      }
      return null;
    }, TRIGGER_MS, 5);
  }
  // decision: the runner that planned a run is killed while that run's decision is being given.
  const delayMs = Math.floor(keyed(world.scenario.seed, `decision-delay:${index}`) * 400);
  return new Promise<RunnerSlot | null>((resolve) => {
    const timer = setTimeout(() => {
      world.driver.onDeciding = null;
      resolve(null);
    }, TRIGGER_MS);
    world.driver.onDeciding = (run: Run) => {
      const slot = world.slots.find((s) => s.id === run.plan?.runnerId && s.alive);
      if (!slot) return;
      world.driver.onDeciding = null;
      clearTimeout(timer);
      setTimeout(() => resolve(slot), delayMs);
    };
  });
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
  const next = fault.restart === 'same' ? slot : await world.addSlot();
  if (!(await next.start())) world.notes.push(`${next.id} did not start after a kill`);
}

/** Fire `fault`; true if it fired, false if its phase was not reached. */
export async function fire(world: World, fault: Fault, index: number): Promise<boolean> {
  const label = fault.kind === 'redis-restart' ? `redis-crash(${world.scenario.redis})` : faultLabel(fault);
  if (fault.kind === 'force-push') {
    const slot = await reach(world, 'plan', index);
    if (!slot) return skip(world, label);
    const prs = [...world.heads.keys()];
    await world.push(prs[Math.floor(keyed(world.scenario.seed, `force-push:${index}`) * prs.length)]!);
  } else if (fault.kind === 'redis-restart') {
    if (!world.redis) return skip(world, label);
    if (fault.phase !== 'now' && !(await reach(world, fault.phase, index))) return skip(world, label);
    await world.redis.crash();
    if (world.scenario.redis === 'none') world.wipes.push(Date.now());
    await sleep(fault.downMs);
    await world.redis.start();
  } else {
    const slot = await reach(world, fault.phase, index);
    if (!slot) return skip(world, label);
    await kill(world, fault, slot);
  }
  world.fired.push(label);
  return true;
}

function skip(world: World, label: string): false {
  world.skipped.push(label);
  return false;
}
