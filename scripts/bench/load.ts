/**
 * A small closed-loop HTTP load generator over a unix socket: N clients,
 * each sending the next request when the previous answer is read, for a
 * fixed time; reports the request rate and latency percentiles. fetch with
 * `unix:` keeps connections alive, as the docker CLI's client does.
 */

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Hammers `path` on `socket` with `concurrency` clients for `seconds` (after `warmupSeconds`). */
export async function load(socket: string, path: string, opts: { concurrency: number; seconds: number; warmupSeconds?: number }): Promise<LoadResult> {
  const one = async (): Promise<boolean> => {
    const res = await fetch(`http://localhost${path}`, { unix: socket } as RequestInit);
    await res.arrayBuffer();
    return res.ok;
  };
  const warmEnd = performance.now() + (opts.warmupSeconds ?? 1) * 1000;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < warmEnd) await one().catch(() => false);
    }),
  );
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const ok = await one().catch(() => false);
        latencies.push(performance.now() - t);
        if (!ok) errors += 1;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds,
    rate: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
  };
}
