/**
 * A bound on concurrent work: `limit(fn)` runs fn when fewer than `n` others
 * run, else when one of them finishes (first come, first served).
 */
export function concurrencyLimit(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active += 1;
    try {
      return await fn();
    } finally {
      active -= 1;
      queue.shift()?.();
    }
  };
}

/** Runs fn over items, at most n at once; rejects with the first failure. */
export async function forEachLimited<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const limit = concurrencyLimit(n);
  await Promise.all(items.map((item) => limit(() => fn(item))));
}
