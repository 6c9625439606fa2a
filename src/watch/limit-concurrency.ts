// A counting semaphore for the watcher: at most `max` remote listings run at once. Spawning a child is
// synchronous in node (fork + exec), so 200 repos polled in the same tick would block the runner's event
// loop for seconds, and every listing in flight holds buffers the heap has to carry.

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/** Run tasks with at most `max` of them in flight; the rest wait their turn, first come first served. */
export function createLimiter(max: number): Limiter {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`a limiter needs a positive whole number, got ${max}`);
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active < max) active++;
    // A finishing task hands its slot straight to the next waiter, so nobody can slip in between.
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
